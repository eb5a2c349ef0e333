package loadtest

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"go.opentelemetry.io/otel/trace"
)

// Histogram range in microseconds: 1µs to one hour, far past any request timeout, so
// nothing is ever clamped in practice.
const maxLatencyMicros = int64(time.Hour / time.Microsecond)

// Request outcomes. Only outcomeOK counts as success; the others are the error kinds a
// report breaks failures down by. They are also metric attribute values, so the set is
// closed.
const (
	outcomeOK          = "ok"
	outcomeUnexpected  = "unexpected_status" // a 1xx-3xx the step did not expect
	outcomeHTTP4xx     = "http_4xx"
	outcomeHTTP5xx     = "http_5xx"
	outcomeRefused     = "connection_refused"
	outcomeTimeout     = "timeout"
	outcomeNetwork     = "network_error" // reset, EOF, DNS, …
	outcomeBadResponse = "bad_response"  // a success status with a body that breaks the contract
)

// sample is one completed request.
type sample struct {
	endpoint string
	scenario string
	intended time.Time // when the schedule wanted it sent: latency is measured from here
	sent     time.Time // when it was actually handed to the transport
	end      time.Time // when the last byte of the response was read (or the error seen)
	status   int
	outcome  string
	span     trace.SpanContext
	active   int64 // sessions alive when it completed
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

// recorder aggregates the run. One mutex guards the histograms, counters, timeline and
// slowest requests: recording is a few array increments, far cheaper than the request
// it describes (under 1% of the generator's CPU in profiles, and a small share of the
// lock waits, most of which are net/http's idle-connection pool). The session counters
// are atomic, so a request takes the lock once.
type recorder struct {
	mu      sync.Mutex
	start   time.Time
	overall *hdrhistogram.Histogram // latency from intended start, µs
	service *hdrhistogram.Histogram // from actual send, µs: what a naive tool reports
	lag     *hdrhistogram.Histogram // actual send minus intended start, µs: the generator's own delay
	byEP    map[string]*endpointStats
	order   []string // endpoint names in declaration order, for stable reports
	errors  map[string]int64
	tl      *timeline
	slow    *slowest
	scen    cowMap[string, *scenarioStats] // read without mu

	requests    int64
	failed      int64
	scheduled   int64 // open model: arrivals due, started or missed
	missed      int64
	interrupted int64 // requests cut off by the end of the run or Ctrl-C; not in latencies
	end         time.Time
}

func newRecorder(start time.Time, planned time.Duration, endpoints, scenarios []string, topN int) *recorder {
	r := &recorder{
		start:   start,
		overall: hdrhistogram.New(1, maxLatencyMicros, 3),
		service: hdrhistogram.New(1, maxLatencyMicros, 3),
		lag:     hdrhistogram.New(1, maxLatencyMicros, 3),
		byEP:    make(map[string]*endpointStats, len(endpoints)),
		errors:  map[string]int64{},
		tl:      newTimeline(planned),
		slow:    newSlowest(topN),
	}
	for _, e := range endpoints {
		r.endpoint(e)
	}
	for _, s := range scenarios {
		r.scenarioStats(s)
	}
	return r
}

// endpoint returns the stats for name; callers hold mu. Names come from the closed set
// of route templates, so the map cannot grow without bound.
func (r *recorder) endpoint(name string) *endpointStats {
	st, ok := r.byEP[name]
	if !ok {
		st = &endpointStats{
			latency: hdrhistogram.New(1, maxLatencyMicros, 3),
			byKind:  map[string]int64{},
			byClass: map[string]int64{},
		}
		r.byEP[name] = st
		r.order = append(r.order, name)
	}
	return st
}

func micros(d time.Duration) int64 {
	us := int64(d / time.Microsecond)
	return min(max(us, 1), maxLatencyMicros)
}

func (r *recorder) record(s sample) {
	latency := s.end.Sub(s.intended)
	us := micros(latency)
	isErr := s.outcome != outcomeOK

	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	_ = r.overall.RecordValue(us)
	_ = r.service.RecordValue(micros(s.end.Sub(s.sent)))
	_ = r.lag.RecordValue(micros(s.sent.Sub(s.intended)))
	ep := r.endpoint(s.endpoint)
	ep.requests++
	_ = ep.latency.RecordValue(us)
	ep.byClass[statusClass(s.status)]++
	if isErr {
		r.failed++
		r.errors[s.outcome]++
		ep.errors++
		ep.byKind[s.outcome]++
	}
	// Throughput is counted when requests complete; latency where they were due, so a
	// stall shows as the ramp of waits it caused rather than as one late spike.
	// The later offset goes first: it is the one that may compact the buckets.
	b := r.tl.at(s.end.Sub(r.start))
	b.requests++
	if isErr {
		b.errors++
	}
	b.maxActive = max(b.maxActive, s.active)
	due := r.tl.at(s.intended.Sub(r.start))
	if due.latency == nil {
		due.latency = newBucketHistogram()
	}
	_ = due.latency.RecordValue(us)
	if r.slow.admits(latency) {
		r.slow.offer(slowRequest{
			Endpoint: s.endpoint,
			Scenario: s.scenario,
			Latency:  latency,
			Offset:   s.intended.Sub(r.start),
			Status:   s.status,
			Outcome:  s.outcome,
			TraceID:  traceID(s.span),
			Sampled:  s.span.IsSampled(),
		})
	}
}

func traceID(sc trace.SpanContext) string {
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// arrival counts an open-model arrival; missed says the concurrency cap turned it away.
func (r *recorder) arrival(due time.Time, missed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scheduled++
	if missed {
		r.missed++
		r.tl.at(due.Sub(r.start)).missed++
	}
}

func (r *recorder) interrupt() {
	r.mu.Lock()
	r.interrupted++
	r.mu.Unlock()
}

func (r *recorder) sessionStarted(scenario string) {
	r.scenarioStats(scenario).started.Add(1)
}

// sessionEnded records how a session ended: "completed", "failed" or "interrupted".
func (r *recorder) sessionEnded(scenario, result string) {
	st := r.scenarioStats(scenario)
	switch result {
	case sessionCompleted:
		st.completed.Add(1)
	case sessionFailed:
		st.failed.Add(1)
	default:
		st.interrupted.Add(1)
	}
}

func (r *recorder) scenarioStats(name string) *scenarioStats {
	return r.scen.loadOrCreate(name, func() *scenarioStats { return &scenarioStats{} })
}

// finish fixes the end of the run, so rates stop decaying once it is over.
func (r *recorder) finish(at time.Time) {
	r.mu.Lock()
	r.end = at
	r.mu.Unlock()
}

// elapsed is the run's length so far (or its final length); callers hold mu.
func (r *recorder) elapsedLocked() time.Duration {
	if !r.end.IsZero() {
		return r.end.Sub(r.start)
	}
	return time.Since(r.start)
}

// The thresholdInput methods read under the lock.

func (r *recorder) latency(endpoint, metric string, pct float64) (float64, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.overall
	if endpoint != "" {
		ep, ok := r.byEP[endpoint]
		if !ok {
			return 0, 0
		}
		h = ep.latency
	}
	var us float64
	switch metric {
	case "avg":
		us = h.Mean()
	case "max":
		us = float64(h.Max())
	case "min":
		us = float64(h.Min())
	default:
		us = float64(h.ValueAtQuantile(pct))
	}
	return us / 1e6, h.TotalCount()
}

func (r *recorder) errorRatio(endpoint string) (float64, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, e := r.requests, r.failed
	if endpoint != "" {
		ep, ok := r.byEP[endpoint]
		if !ok {
			return 0, 0
		}
		n, e = ep.requests, ep.errors
	}
	return ratio(e, n), n
}

func (r *recorder) missedRatio() (float64, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ratio(r.missed, r.scheduled), r.scheduled
}

func (r *recorder) throughput(endpoint string) (float64, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.requests
	if endpoint != "" {
		if ep, ok := r.byEP[endpoint]; ok {
			n = ep.requests
		} else {
			n = 0
		}
	}
	secs := r.elapsedLocked().Seconds()
	if secs <= 0 {
		return 0, n
	}
	return float64(n) / secs, n
}

func ratio(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// live is the small snapshot the progress line shows.
type live struct {
	elapsed          time.Duration
	requests, failed int64
	missed           int64
	p50, p99         time.Duration
}

func (r *recorder) live() live {
	r.mu.Lock()
	defer r.mu.Unlock()
	return live{
		elapsed:  r.elapsedLocked(),
		requests: r.requests,
		failed:   r.failed,
		missed:   r.missed,
		p50:      time.Duration(r.overall.ValueAtQuantile(50)) * time.Microsecond,
		p99:      time.Duration(r.overall.ValueAtQuantile(99)) * time.Microsecond,
	}
}

// endpointNames lists the endpoints in declaration order; callers hold mu.
func (r *recorder) endpointNamesLocked() []string { return slices.Clone(r.order) }

func sortedKeys(m map[string]int64) []string { return slices.Sorted(maps.Keys(m)) }
