package loadtest

import (
	"maps"
	"math"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// summary is the run's result: what the text, JSON and HTML reports show. Its JSON form
// is the -json file; latencies are in milliseconds.
type summary struct {
	RunID       string    `json:"run_id"`
	Target      string    `json:"target"`
	Mode        string    `json:"mode"`
	Arrival     string    `json:"arrival,omitempty"`
	Stages      string    `json:"stages"`
	Think       string    `json:"think"`
	Seed        uint64    `json:"seed"`
	StartedAt   time.Time `json:"started_at"`
	DurationSec float64   `json:"duration_s"`
	Passed      bool      `json:"passed"`
	Interrupted bool      `json:"interrupted"`
	AbortedOn   string    `json:"aborted_on,omitempty"`

	Requests            int64   `json:"requests"`
	Errors              int64   `json:"errors"`
	ErrorRatio          float64 `json:"error_ratio"`
	RPS                 float64 `json:"rps"`
	Scheduled           int64   `json:"scheduled"`
	MissedStarts        int64   `json:"missed_starts"`
	MissedRatio         float64 `json:"missed_ratio"`
	InterruptedRequests int64   `json:"interrupted_requests"`

	// Latency runs from each request's intended start; ServiceTime from when it was
	// actually sent, which is what a tool with coordinated omission would report.
	// StartLag is the difference: how late the generator itself sent (timer wake-up,
	// scheduling on a busy machine), included in Latency because the shopper waited too.
	Latency      latencyStats      `json:"latency_ms"`
	ServiceTime  latencyStats      `json:"service_time_ms"`
	StartLag     latencyStats      `json:"start_lag_ms"`
	ErrorsByKind map[string]int64  `json:"errors_by_kind"`
	Endpoints    []endpointSummary `json:"endpoints"`
	Scenarios    []scenarioSummary `json:"scenarios"`
	Timeline     timelineSummary   `json:"timeline"`
	Slowest      []slowSummary     `json:"slowest"`
	Thresholds   []thresholdResult `json:"thresholds"`

	jaegerURL string
}

type latencyStats struct {
	Count int64   `json:"count"`
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

type endpointSummary struct {
	Name          string           `json:"name"`
	Method        string           `json:"method"`
	Route         string           `json:"route"`
	Requests      int64            `json:"requests"`
	Errors        int64            `json:"errors"`
	ErrorRatio    float64          `json:"error_ratio"`
	ErrorsByKind  map[string]int64 `json:"errors_by_kind"`
	StatusClasses map[string]int64 `json:"status_classes"`
	Latency       latencyStats     `json:"latency_ms"`
}

type scenarioSummary struct {
	Name        string `json:"name"`
	Started     int64  `json:"started"`
	Completed   int64  `json:"completed"`
	Failed      int64  `json:"failed"`
	Interrupted int64  `json:"interrupted"`
}

type timelineSummary struct {
	BucketSec float64         `json:"bucket_s"`
	Points    []timelinePoint `json:"points"`
}

// timelinePoint is one bucket. Requests, errors and RPS count completions in it; the
// latencies are those of requests due in it (null where none were), missed the arrivals
// due in it that were turned away.
type timelinePoint struct {
	T         float64  `json:"t"` // seconds from the start of the run to the bucket's start
	Requests  int64    `json:"requests"`
	Errors    int64    `json:"errors"`
	Missed    int64    `json:"missed"`
	RPS       float64  `json:"rps"`
	P50       *float64 `json:"p50_ms"`
	P90       *float64 `json:"p90_ms"`
	P99       *float64 `json:"p99_ms"`
	Max       *float64 `json:"max_ms"`
	MaxActive int64    `json:"max_active"`
}

type slowSummary struct {
	Endpoint  string  `json:"endpoint"`
	Scenario  string  `json:"scenario"`
	LatencyMS float64 `json:"latency_ms"`
	StartSec  float64 `json:"start_s"` // intended start, from the start of the run
	Status    int     `json:"status,omitempty"`
	Outcome   string  `json:"outcome"`
	TraceID   string  `json:"trace_id,omitempty"`
	TraceURL  string  `json:"trace_url,omitempty"`
}

func (s *summary) Duration() time.Duration {
	return time.Duration(s.DurationSec * float64(time.Second))
}

func ms(us float64) float64 { return math.Round(us) / 1000 }

func statsOf(h *hdrhistogram.Histogram) latencyStats {
	if h.TotalCount() == 0 {
		return latencyStats{}
	}
	return latencyStats{
		Count: h.TotalCount(),
		Min:   ms(float64(h.Min())),
		Mean:  ms(h.Mean()),
		P50:   ms(float64(h.ValueAtQuantile(50))),
		P90:   ms(float64(h.ValueAtQuantile(90))),
		P95:   ms(float64(h.ValueAtQuantile(95))),
		P99:   ms(float64(h.ValueAtQuantile(99))),
		P999:  ms(float64(h.ValueAtQuantile(99.9))),
		Max:   ms(float64(h.Max())),
	}
}

// summary snapshots the recorder into the report model.
func (r *runner) summary(thresholds []thresholdResult, interrupted bool, aborted *thresholdResult) *summary {
	rec := r.rec
	rec.mu.Lock()
	defer rec.mu.Unlock()
	elapsed := rec.elapsedLocked()
	s := &summary{
		RunID:               r.cfg.runID,
		Target:              r.client.base,
		Mode:                r.cfg.mode,
		Stages:              r.cfg.profile.String(),
		Think:               r.cfg.think.String(),
		Seed:                r.cfg.seed,
		StartedAt:           rec.start.UTC().Truncate(time.Millisecond),
		DurationSec:         math.Round(elapsed.Seconds()*1000) / 1000,
		Interrupted:         interrupted,
		Requests:            rec.requests,
		Errors:              rec.failed,
		ErrorRatio:          ratio(rec.failed, rec.requests),
		Scheduled:           rec.scheduled,
		MissedStarts:        rec.missed,
		MissedRatio:         ratio(rec.missed, rec.scheduled),
		InterruptedRequests: rec.interrupted,
		Latency:             statsOf(rec.overall),
		ServiceTime:         statsOf(rec.service),
		StartLag:            statsOf(rec.lag),
		ErrorsByKind:        map[string]int64{},
		Thresholds:          thresholds,
		jaegerURL:           r.cfg.jaegerURL,
	}
	if s.Thresholds == nil {
		s.Thresholds = []thresholdResult{}
	}
	if r.cfg.mode == modeOpen {
		s.Arrival = r.cfg.arrival
	}
	if aborted != nil {
		s.AbortedOn = aborted.Expr
	}
	s.Passed = !interrupted
	for _, t := range thresholds {
		s.Passed = s.Passed && t.OK
	}
	if secs := elapsed.Seconds(); secs > 0 {
		s.RPS = math.Round(float64(rec.requests)/secs*100) / 100
	}
	maps.Copy(s.ErrorsByKind, rec.errors)
	for _, name := range rec.endpointNamesLocked() {
		ep := rec.byEP[name]
		method, route, _ := strings.Cut(name, " ")
		s.Endpoints = append(s.Endpoints, endpointSummary{
			Name:          name,
			Method:        method,
			Route:         route,
			Requests:      ep.requests,
			Errors:        ep.errors,
			ErrorRatio:    ratio(ep.errors, ep.requests),
			ErrorsByKind:  maps.Clone(ep.byKind),
			StatusClasses: maps.Clone(ep.byClass),
			Latency:       statsOf(ep.latency),
		})
	}
	scen := rec.scen.snapshot()
	for _, name := range sortedScenarioNames(scen) {
		st := scen[name]
		s.Scenarios = append(s.Scenarios, scenarioSummary{
			Name: name, Started: st.started.Load(), Completed: st.completed.Load(), Failed: st.failed.Load(), Interrupted: st.interrupted.Load(),
		})
	}
	width := rec.tl.width.Seconds()
	s.Timeline = timelineSummary{BucketSec: width, Points: make([]timelinePoint, 0, len(rec.tl.buckets))}
	for i, b := range rec.tl.buckets {
		p := timelinePoint{
			T:         float64(i) * width,
			Requests:  b.requests,
			Errors:    b.errors,
			Missed:    b.missed,
			RPS:       math.Round(float64(b.requests)/width*100) / 100,
			MaxActive: b.maxActive,
		}
		if b.latency != nil && b.latency.TotalCount() > 0 {
			p.P50 = ptr(ms(float64(b.latency.ValueAtQuantile(50))))
			p.P90 = ptr(ms(float64(b.latency.ValueAtQuantile(90))))
			p.P99 = ptr(ms(float64(b.latency.ValueAtQuantile(99))))
			p.Max = ptr(ms(float64(b.latency.Max())))
		}
		s.Timeline.Points = append(s.Timeline.Points, p)
	}
	s.Slowest = []slowSummary{}
	for _, sr := range rec.slow.sorted() {
		e := slowSummary{
			Endpoint:  sr.Endpoint,
			Scenario:  sr.Scenario,
			LatencyMS: ms(float64(sr.Latency) / float64(time.Microsecond)),
			StartSec:  math.Round(sr.Offset.Seconds()*1000) / 1000,
			Status:    sr.Status,
			Outcome:   sr.Outcome,
			TraceID:   sr.TraceID,
		}
		// Jaeger only has sampled traces; a link to an unsampled one would be a dead end.
		if sr.TraceID != "" && sr.Sampled && r.cfg.jaegerURL != "" {
			e.TraceURL = r.cfg.jaegerURL + "/trace/" + sr.TraceID
		}
		s.Slowest = append(s.Slowest, e)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// sortedScenarioNames keeps the declaration order of the built-in scenarios.
func sortedScenarioNames(m map[string]*scenarioStats) []string {
	var names []string
	for _, sc := range scenarios {
		if _, ok := m[sc.name]; ok {
			names = append(names, sc.name)
		}
	}
	for name := range m {
		if scenarioNamed(name) == nil {
			names = append(names, name)
		}
	}
	return names
}
