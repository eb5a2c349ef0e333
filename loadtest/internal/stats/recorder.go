// Package stats owns the run's statistics: latency from each request's intended start
// in HDR histograms (overall, per endpoint, service time, start lag), errors by kind,
// arrivals and missed starts, sessions by scenario, a fixed-size timeline and the
// slowest requests, all in memory that does not grow with the length of the run.
package stats

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/loadtest/internal/gateway"
)

// Histogram range in microseconds: 1µs to one hour, far past any request timeout, so
// nothing is ever clamped in practice.
const maxLatencyMicros = int64(time.Hour / time.Microsecond)

// Session results, as reports and the loadgen.sessions metric name them.
const (
	SessionCompleted   = "completed"
	SessionFailed      = "failed"
	SessionInterrupted = "interrupted"
)

// SessionResults lists every session result.
var SessionResults = []string{SessionCompleted, SessionFailed, SessionInterrupted}

// Sample is one completed request.
type Sample struct {
	Endpoint string
	Scenario string
	Intended time.Time // when the schedule wanted it sent: latency is measured from here
	Sent     time.Time // when it was actually handed to the transport
	End      time.Time // when the last byte of the response was read (or the error seen)
	Status   int
	Outcome  string // one of the gateway.Outcome kinds
	Span     trace.SpanContext
}

// endpointStats holds everything kept per endpoint; all of it is fixed-size.
type endpointStats struct {
	latency  *hdrhistogram.Histogram // µs from intended start
	requests int64
	errors   int64
	byKind   map[string]int64 // outcome → count, errors only
	byClass  map[string]int64 // "2xx", "4xx", …, "none"
}

// scenarioStats counts one scenario's sessions. The counters are atomic so that starting
// and ending a session (once per request in -url mode) does not take the recorder's lock.
type scenarioStats struct {
	started, completed, failed, interrupted atomic.Int64
}

// Recorder aggregates the run. One mutex guards the histograms, counters, timeline and
// slowest requests: recording is a few array increments, far cheaper than the request
// it describes (under 1% of the generator's CPU in profiles, and a small share of the
// lock waits, most of which are net/http's idle-connection pool). The session counters
// are atomic, so a request takes the lock once.
type Recorder struct {
	mu      sync.Mutex
	start   time.Time
	overall *hdrhistogram.Histogram // latency from intended start, µs
	service *hdrhistogram.Histogram // from actual send, µs: what a naive tool reports
	lag     *hdrhistogram.Histogram // actual send minus intended start, µs: the generator's own delay
	byEP    map[string]*endpointStats
	order   []string // endpoint names in the order given, for stable reports
	errors  map[string]int64
	tl      *timeline
	slow    *slowest

	// Read without mu: built once, before the run, from the run's scenarios.
	scenarios     map[string]*scenarioStats
	scenarioOrder []string
	active        atomic.Int64 // sessions in progress

	requests    int64
	failed      int64
	scheduled   int64 // open model: arrivals due, started or missed
	missed      int64
	interrupted int64 // requests cut off by the end of the run or Ctrl-C; not in latencies
	end         time.Time
}

// NewRecorder starts the statistics of a run that began at start and is planned to last
// planned, over its endpoints and scenarios (listed in the reports' order), keeping the
// topN slowest requests.
func NewRecorder(start time.Time, planned time.Duration, endpoints, scenarios []string, topN int) *Recorder {
	r := &Recorder{
		start:         start,
		overall:       newHistogram(),
		service:       newHistogram(),
		lag:           newHistogram(),
		byEP:          make(map[string]*endpointStats, len(endpoints)),
		errors:        map[string]int64{},
		tl:            newTimeline(planned),
		slow:          newSlowest(topN),
		scenarios:     make(map[string]*scenarioStats, len(scenarios)),
		scenarioOrder: scenarios,
	}
	for _, e := range endpoints {
		r.endpoint(e)
	}
	for _, s := range scenarios {
		r.scenarios[s] = &scenarioStats{}
	}
	return r
}

func newHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(1, maxLatencyMicros, 3) }

// endpoint returns the stats for name; callers hold mu. Names come from the closed set
// of route templates, so the map cannot grow without bound.
func (r *Recorder) endpoint(name string) *endpointStats {
	st, ok := r.byEP[name]
	if !ok {
		st = &endpointStats{latency: newHistogram(), byKind: map[string]int64{}, byClass: map[string]int64{}}
		r.byEP[name] = st
		r.order = append(r.order, name)
	}
	return st
}

func micros(d time.Duration) int64 {
	us := int64(d / time.Microsecond)
	return min(max(us, 1), maxLatencyMicros)
}

// Record adds a completed request.
func (r *Recorder) Record(s Sample) {
	latency := s.End.Sub(s.Intended)
	us := micros(latency)
	isErr := s.Outcome != gateway.OutcomeOK
	active := r.active.Load()

	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	_ = r.overall.RecordValue(us)
	_ = r.service.RecordValue(micros(s.End.Sub(s.Sent)))
	_ = r.lag.RecordValue(micros(s.Sent.Sub(s.Intended)))
	ep := r.endpoint(s.Endpoint)
	ep.requests++
	_ = ep.latency.RecordValue(us)
	ep.byClass[gateway.StatusClass(s.Status)]++
	if isErr {
		r.failed++
		r.errors[s.Outcome]++
		ep.errors++
		ep.byKind[s.Outcome]++
	}
	// Throughput is counted when requests complete; latency where they were due, so a
	// stall shows as the ramp of waits it caused rather than as one late spike.
	// The later offset goes first: it is the one that may compact the buckets.
	b := r.tl.at(s.End.Sub(r.start))
	b.requests++
	if isErr {
		b.errors++
	}
	b.maxActive = max(b.maxActive, active)
	due := r.tl.at(s.Intended.Sub(r.start))
	if due.latency == nil {
		due.latency = newBucketHistogram()
	}
	_ = due.latency.RecordValue(us)
	if r.slow.admits(latency) {
		r.slow.offer(SlowRequest{
			Endpoint: s.Endpoint,
			Scenario: s.Scenario,
			Latency:  latency,
			Offset:   s.Intended.Sub(r.start),
			Status:   s.Status,
			Outcome:  s.Outcome,
			TraceID:  traceID(s.Span),
			Sampled:  s.Span.IsSampled(),
		})
	}
}

func traceID(sc trace.SpanContext) string {
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// Arrival counts an open-model arrival; missed says the concurrency cap turned it away.
func (r *Recorder) Arrival(due time.Time, missed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scheduled++
	if missed {
		r.missed++
		r.tl.at(due.Sub(r.start)).missed++
	}
}

// Interrupted counts a request cut off by the end of the run or Ctrl-C.
func (r *Recorder) Interrupted() {
	r.mu.Lock()
	r.interrupted++
	r.mu.Unlock()
}

// SessionStarted counts a session of one of the run's scenarios.
func (r *Recorder) SessionStarted(scenario string) {
	r.active.Add(1)
	r.scenarios[scenario].started.Add(1)
}

// SessionEnded records how a session ended, one of the SessionResults.
func (r *Recorder) SessionEnded(scenario, result string) {
	r.active.Add(-1)
	st := r.scenarios[scenario]
	switch result {
	case SessionCompleted:
		st.completed.Add(1)
	case SessionFailed:
		st.failed.Add(1)
	default:
		st.interrupted.Add(1)
	}
}

// Active is the number of sessions in progress.
func (r *Recorder) Active() int64 { return r.active.Load() }

// Finish fixes the end of the run, so rates stop decaying once it is over.
func (r *Recorder) Finish(at time.Time) {
	r.mu.Lock()
	r.end = at
	r.mu.Unlock()
}

// elapsedLocked is the run's length so far (or its final length); callers hold mu.
func (r *Recorder) elapsedLocked() time.Duration {
	if !r.end.IsZero() {
		return r.end.Sub(r.start)
	}
	return time.Since(r.start)
}
