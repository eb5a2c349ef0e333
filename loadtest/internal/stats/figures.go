package stats

import (
	"maps"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Statistic is what Latency computes over a set of latencies.
type Statistic int

const (
	Quantile Statistic = iota // the pct-th percentile
	Mean
	Min
	Max
)

// Latency returns the statistic of the latencies of endpoint ("" for all) in seconds,
// and the number of samples it is based on.
func (r *Recorder) Latency(endpoint string, stat Statistic, pct float64) (seconds float64, samples int64) {
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
	switch stat {
	case Mean:
		us = h.Mean()
	case Max:
		us = float64(h.Max())
	case Min:
		us = float64(h.Min())
	default:
		us = float64(h.ValueAtQuantile(pct))
	}
	return us / 1e6, h.TotalCount()
}

// ErrorRatio is the share of endpoint's requests ("" for all) that failed.
func (r *Recorder) ErrorRatio(endpoint string) (ratio float64, samples int64) {
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
	return Ratio(e, n), n
}

// MissedRatio is the share of the arrivals that were missed starts.
func (r *Recorder) MissedRatio() (ratio float64, scheduled int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Ratio(r.missed, r.scheduled), r.scheduled
}

// Throughput is endpoint's ("" for all) completed requests per second of the run.
func (r *Recorder) Throughput(endpoint string) (perSecond float64, samples int64) {
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

// Ratio is part/whole, 0 for an empty whole.
func Ratio(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// Live is the small snapshot the progress line shows.
type Live struct {
	Elapsed          time.Duration
	Requests, Failed int64
	Missed           int64
	P50, P99         time.Duration
	Active           int64
}

// Live returns the figures so far.
func (r *Recorder) Live() Live {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Live{
		Elapsed:  r.elapsedLocked(),
		Requests: r.requests,
		Failed:   r.failed,
		Missed:   r.missed,
		P50:      time.Duration(r.overall.ValueAtQuantile(50)) * time.Microsecond,
		P99:      time.Duration(r.overall.ValueAtQuantile(99)) * time.Microsecond,
		Active:   r.active.Load(),
	}
}

// Snapshot is every figure of the run at one moment, for the reports.
type Snapshot struct {
	Start                                    time.Time
	Elapsed                                  time.Duration
	Requests, Failed, Scheduled, Missed, Cut int64 // Cut: requests cut off at the end
	Latency, ServiceTime, StartLag           Distribution
	ErrorsByKind                             map[string]int64
	Endpoints                                []EndpointFigures
	Scenarios                                []ScenarioFigures
	BucketWidth                              time.Duration
	Buckets                                  []BucketFigures
	Slowest                                  []SlowRequest // slowest first
}

// Distribution summarises a set of latencies, in microseconds.
type Distribution struct {
	Count                               int64
	Min, Mean, P50, P90, P95, P99, P999 float64
	Max                                 float64
}

// EndpointFigures are one endpoint's.
type EndpointFigures struct {
	Name          string
	Requests      int64
	Errors        int64
	ErrorsByKind  map[string]int64
	StatusClasses map[string]int64
	Latency       Distribution
}

// ScenarioFigures count one scenario's sessions.
type ScenarioFigures struct {
	Name                                    string
	Started, Completed, Failed, Interrupted int64
}

// BucketFigures are one interval of the timeline. Requests and errors count the
// completions in it; Latency the requests due in it, missed the arrivals due in it that
// were turned away.
type BucketFigures struct {
	Requests, Errors, Missed int64
	MaxActive                int64 // the most sessions in progress when one of its requests completed
	Latency                  Distribution
}

// Snapshot returns the figures so far (all of them once Finish was called).
func (r *Recorder) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Snapshot{
		Start:        r.start,
		Elapsed:      r.elapsedLocked(),
		Requests:     r.requests,
		Failed:       r.failed,
		Scheduled:    r.scheduled,
		Missed:       r.missed,
		Cut:          r.interrupted,
		Latency:      distribution(r.overall),
		ServiceTime:  distribution(r.service),
		StartLag:     distribution(r.lag),
		ErrorsByKind: maps.Clone(r.errors),
		BucketWidth:  r.tl.width,
		Slowest:      r.slow.sorted(),
	}
	for _, name := range r.order {
		ep := r.byEP[name]
		s.Endpoints = append(s.Endpoints, EndpointFigures{
			Name:          name,
			Requests:      ep.requests,
			Errors:        ep.errors,
			ErrorsByKind:  maps.Clone(ep.byKind),
			StatusClasses: maps.Clone(ep.byClass),
			Latency:       distribution(ep.latency),
		})
	}
	for _, name := range r.scenarioOrder {
		st := r.scenarios[name]
		s.Scenarios = append(s.Scenarios, ScenarioFigures{
			Name: name, Started: st.started.Load(), Completed: st.completed.Load(), Failed: st.failed.Load(), Interrupted: st.interrupted.Load(),
		})
	}
	s.Buckets = make([]BucketFigures, len(r.tl.buckets))
	for i, b := range r.tl.buckets {
		s.Buckets[i] = BucketFigures{Requests: b.requests, Errors: b.errors, Missed: b.missed, MaxActive: b.maxActive}
		if b.latency != nil {
			s.Buckets[i].Latency = distribution(b.latency)
		}
	}
	return s
}

func distribution(h *hdrhistogram.Histogram) Distribution {
	if h.TotalCount() == 0 {
		return Distribution{}
	}
	return Distribution{
		Count: h.TotalCount(),
		Min:   float64(h.Min()),
		Mean:  h.Mean(),
		P50:   float64(h.ValueAtQuantile(50)),
		P90:   float64(h.ValueAtQuantile(90)),
		P95:   float64(h.ValueAtQuantile(95)),
		P99:   float64(h.ValueAtQuantile(99)),
		P999:  float64(h.ValueAtQuantile(99.9)),
		Max:   float64(h.Max()),
	}
}
