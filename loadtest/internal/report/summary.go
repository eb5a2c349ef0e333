// Package report owns what a run reports: the summary model (whose JSON form is the
// -json file, latencies in milliseconds), the text summary on stdout, and the
// self-contained HTML report with inline SVG charts and links to the slowest requests'
// traces.
package report

import (
	"math"
	"strings"
	"time"

	"github.com/otelshop/shop/loadtest/internal/schedule"
	"github.com/otelshop/shop/loadtest/internal/stats"
	"github.com/otelshop/shop/loadtest/internal/thresholds"
)

// Summary is the run's result: what the text, JSON and HTML reports show.
type Summary struct {
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
	Latency      Latency             `json:"latency_ms"`
	ServiceTime  Latency             `json:"service_time_ms"`
	StartLag     Latency             `json:"start_lag_ms"`
	ErrorsByKind map[string]int64    `json:"errors_by_kind"`
	Endpoints    []Endpoint          `json:"endpoints"`
	Scenarios    []Scenario          `json:"scenarios"`
	Timeline     Timeline            `json:"timeline"`
	Slowest      []Slow              `json:"slowest"`
	Thresholds   []thresholds.Result `json:"thresholds"`
}

// Latency summarises a set of latencies, in milliseconds.
type Latency struct {
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

// Endpoint is one route's figures.
type Endpoint struct {
	Name          string           `json:"name"`
	Method        string           `json:"method"`
	Route         string           `json:"route"`
	Requests      int64            `json:"requests"`
	Errors        int64            `json:"errors"`
	ErrorRatio    float64          `json:"error_ratio"`
	ErrorsByKind  map[string]int64 `json:"errors_by_kind"`
	StatusClasses map[string]int64 `json:"status_classes"`
	Latency       Latency          `json:"latency_ms"`
}

// Scenario counts one scenario's sessions.
type Scenario struct {
	Name        string `json:"name"`
	Started     int64  `json:"started"`
	Completed   int64  `json:"completed"`
	Failed      int64  `json:"failed"`
	Interrupted int64  `json:"interrupted"`
}

// Timeline is the run in fixed intervals.
type Timeline struct {
	BucketSec float64         `json:"bucket_s"`
	Points    []TimelinePoint `json:"points"`
}

// TimelinePoint is one interval. Requests, errors and RPS count completions in it; the
// latencies are those of requests due in it (null where none were), missed the arrivals
// due in it that were turned away.
type TimelinePoint struct {
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

// Slow is one of the slowest requests.
type Slow struct {
	Endpoint  string  `json:"endpoint"`
	Scenario  string  `json:"scenario"`
	LatencyMS float64 `json:"latency_ms"`
	StartSec  float64 `json:"start_s"` // intended start, from the start of the run
	Status    int     `json:"status,omitempty"`
	Outcome   string  `json:"outcome"`
	TraceID   string  `json:"trace_id,omitempty"`
	TraceURL  string  `json:"trace_url,omitempty"`
}

// Duration is how long the run went on.
func (s *Summary) Duration() time.Duration {
	return time.Duration(s.DurationSec * float64(time.Second))
}

// Run is what the report says about the run besides its figures.
type Run struct {
	RunID   string
	Target  string
	Mode    string
	Arrival string // open model only
	Stages  string
	Think   string
	Seed    uint64
	// JaegerURL is the Jaeger UI the slowest requests link to; "" for no links.
	JaegerURL string
}

// Outcome is how the run ended.
type Outcome struct {
	Thresholds  []thresholds.Result
	Interrupted bool
	AbortedOn   *thresholds.Result // the threshold -abort-on-fail stopped the run on
}

// New builds the report of a run from its figures.
func New(run Run, figures stats.Snapshot, out Outcome) *Summary {
	s := &Summary{
		RunID:               run.RunID,
		Target:              run.Target,
		Mode:                run.Mode,
		Stages:              run.Stages,
		Think:               run.Think,
		Seed:                run.Seed,
		StartedAt:           figures.Start.UTC().Truncate(time.Millisecond),
		DurationSec:         math.Round(figures.Elapsed.Seconds()*1000) / 1000,
		Interrupted:         out.Interrupted,
		Requests:            figures.Requests,
		Errors:              figures.Failed,
		ErrorRatio:          stats.Ratio(figures.Failed, figures.Requests),
		Scheduled:           figures.Scheduled,
		MissedStarts:        figures.Missed,
		MissedRatio:         stats.Ratio(figures.Missed, figures.Scheduled),
		InterruptedRequests: figures.Cut,
		Latency:             latencyMS(figures.Latency),
		ServiceTime:         latencyMS(figures.ServiceTime),
		StartLag:            latencyMS(figures.StartLag),
		ErrorsByKind:        figures.ErrorsByKind,
		Thresholds:          out.Thresholds,
	}
	if s.ErrorsByKind == nil {
		s.ErrorsByKind = map[string]int64{}
	}
	if s.Thresholds == nil {
		s.Thresholds = []thresholds.Result{}
	}
	if run.Mode == schedule.ModeOpen {
		s.Arrival = run.Arrival
	}
	if out.AbortedOn != nil {
		s.AbortedOn = out.AbortedOn.Expr
	}
	s.Passed = !out.Interrupted
	for _, t := range out.Thresholds {
		s.Passed = s.Passed && t.OK
	}
	if secs := figures.Elapsed.Seconds(); secs > 0 {
		s.RPS = math.Round(float64(figures.Requests)/secs*100) / 100
	}
	for _, ep := range figures.Endpoints {
		method, route, _ := strings.Cut(ep.Name, " ")
		s.Endpoints = append(s.Endpoints, Endpoint{
			Name:          ep.Name,
			Method:        method,
			Route:         route,
			Requests:      ep.Requests,
			Errors:        ep.Errors,
			ErrorRatio:    stats.Ratio(ep.Errors, ep.Requests),
			ErrorsByKind:  ep.ErrorsByKind,
			StatusClasses: ep.StatusClasses,
			Latency:       latencyMS(ep.Latency),
		})
	}
	for _, sc := range figures.Scenarios {
		s.Scenarios = append(s.Scenarios, Scenario(sc))
	}
	width := figures.BucketWidth.Seconds()
	s.Timeline = Timeline{BucketSec: width, Points: make([]TimelinePoint, 0, len(figures.Buckets))}
	for i, b := range figures.Buckets {
		p := TimelinePoint{
			T:         float64(i) * width,
			Requests:  b.Requests,
			Errors:    b.Errors,
			Missed:    b.Missed,
			RPS:       math.Round(float64(b.Requests)/width*100) / 100,
			MaxActive: b.MaxActive,
		}
		if l := b.Latency; l.Count > 0 {
			p.P50, p.P90, p.P99, p.Max = ptr(ms(l.P50)), ptr(ms(l.P90)), ptr(ms(l.P99)), ptr(ms(l.Max))
		}
		s.Timeline.Points = append(s.Timeline.Points, p)
	}
	s.Slowest = []Slow{}
	for _, sr := range figures.Slowest {
		e := Slow{
			Endpoint:  sr.Endpoint,
			Scenario:  sr.Scenario,
			LatencyMS: ms(float64(sr.Latency) / float64(time.Microsecond)),
			StartSec:  math.Round(sr.Offset.Seconds()*1000) / 1000,
			Status:    sr.Status,
			Outcome:   sr.Outcome,
			TraceID:   sr.TraceID,
		}
		// Jaeger only has sampled traces; a link to an unsampled one would be a dead end.
		if sr.TraceID != "" && sr.Sampled && run.JaegerURL != "" {
			e.TraceURL = run.JaegerURL + "/trace/" + sr.TraceID
		}
		s.Slowest = append(s.Slowest, e)
	}
	return s
}

// ms turns microseconds into milliseconds, to the microsecond.
func ms(us float64) float64 { return math.Round(us) / 1000 }

func latencyMS(d stats.Distribution) Latency {
	return Latency{
		Count: d.Count,
		Min:   ms(d.Min),
		Mean:  ms(d.Mean),
		P50:   ms(d.P50),
		P90:   ms(d.P90),
		P95:   ms(d.P95),
		P99:   ms(d.P99),
		P999:  ms(d.P999),
		Max:   ms(d.Max),
	}
}

func ptr[T any](v T) *T { return &v }
