package loadtest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// The generator's own metrics, exported twice: through the injected MeterProvider (OTLP)
// and on the client_golang registry (scraped from -metrics-addr or the admin server).
// Both carry the same names and only bounded attributes: the route template, the method,
// the status class, the outcome kind and the scenario name. Never ids, emails, tokens or
// raw paths.
const (
	metricRequests = "loadgen.requests"         // {endpoint, method, status_class, outcome}
	metricDuration = "loadgen.request.duration" // seconds from intended start {endpoint, method, status_class}
	metricMissed   = "loadgen.missed_starts"    // arrivals the concurrency cap turned away
	metricActive   = "loadgen.sessions.active"  // {scenario}
	metricSessions = "loadgen.sessions"         // ended sessions {scenario, result}
)

// durationBuckets match the layout telemetry/views.go gives every seconds histogram, so
// the OTLP and the client_golang copies of the latency histogram agree bucket for bucket.
var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

type instruments struct {
	requests metric.Int64Counter
	duration metric.Float64Histogram
	missed   metric.Int64Counter
	active   metric.Int64UpDownCounter
	sessions metric.Int64Counter

	promRequests *prometheus.CounterVec
	promDuration *prometheus.HistogramVec
	promMissed   prometheus.Counter
	promActive   *prometheus.GaugeVec
	promSessions *prometheus.CounterVec

	// A handful of label combinations, each resolved once and then read by every
	// request without a lock.
	series    cowMap[seriesKey, *series]
	scenarios cowMap[string, *scenarioSeries]
}

type seriesKey struct{ endpoint, class, outcome string }

// series caches one label combination's handles so recording a request does not
// allocate attribute sets, option slices or hash label values.
type series struct {
	countOpts    []metric.AddOption
	durationOpts []metric.RecordOption
	promCount    prometheus.Counter
	promDuration prometheus.Observer
}

func newInstruments(tel Telemetry) (*instruments, error) {
	m := tel.MeterProvider.Meter("github.com/otelshop/shop/loadtest")
	in := &instruments{}
	var errs []error
	var err error
	in.requests, err = m.Int64Counter(metricRequests, metric.WithUnit("{request}"),
		metric.WithDescription("Requests the load generator completed, by endpoint template and outcome."))
	errs = append(errs, err)
	in.duration, err = m.Float64Histogram(metricDuration, metric.WithUnit("s"),
		metric.WithDescription("Request latency measured from the intended start (no coordinated omission)."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	errs = append(errs, err)
	in.missed, err = m.Int64Counter(metricMissed, metric.WithUnit("{arrival}"),
		metric.WithDescription("Open-model arrivals not started because the concurrency cap was reached."))
	errs = append(errs, err)
	in.active, err = m.Int64UpDownCounter(metricActive, metric.WithUnit("{session}"),
		metric.WithDescription("Sessions in progress."))
	errs = append(errs, err)
	in.sessions, err = m.Int64Counter(metricSessions, metric.WithUnit("{session}"),
		metric.WithDescription("Sessions ended, by scenario and result (completed, failed, interrupted)."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("create loadgen instruments: %w", err)
	}

	in.promRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loadgen_requests_total",
		Help: "Requests the load generator completed, by endpoint template and outcome.",
	}, []string{"endpoint", "method", "status_class", "outcome"})
	in.promDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "loadgen_request_duration_seconds",
		Help:    "Request latency measured from the intended start (no coordinated omission).",
		Buckets: durationBuckets,
	}, []string{"endpoint", "method", "status_class"})
	in.promMissed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "loadgen_missed_starts_total",
		Help: "Open-model arrivals not started because the concurrency cap was reached.",
	})
	in.promActive = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "loadgen_sessions_active",
		Help: "Sessions in progress.",
	}, []string{"scenario"})
	in.promSessions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loadgen_sessions_total",
		Help: "Sessions ended, by scenario and result (completed, failed, interrupted).",
	}, []string{"scenario", "result"})
	for _, c := range []prometheus.Collector{in.promRequests, in.promDuration, in.promMissed, in.promActive, in.promSessions} {
		if err := tel.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("register loadgen metrics (one run per registry): %w", err)
		}
	}
	return in, nil
}

func (in *instruments) seriesFor(ep endpoint, status int, outcome string) *series {
	key := seriesKey{endpoint: ep.String(), class: statusClass(status), outcome: outcome}
	if s, ok := in.series.load(key); ok {
		return s
	}
	return in.series.loadOrCreate(key, func() *series {
		base := []attribute.KeyValue{
			attribute.String("endpoint", ep.route),
			attribute.String("method", ep.method),
			attribute.String("status_class", key.class),
		}
		counted := attribute.NewSet(append(base, attribute.String("outcome", outcome))...)
		return &series{
			countOpts:    []metric.AddOption{metric.WithAttributeSet(counted)},
			durationOpts: []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(base...))},
			promCount:    in.promRequests.WithLabelValues(ep.route, ep.method, key.class, outcome),
			promDuration: in.promDuration.WithLabelValues(ep.route, ep.method, key.class),
		}
	})
}

func (r *runner) observe(s sample, ep endpoint) {
	r.rec.record(s)
	sr := r.inst.seriesFor(ep, s.status, s.outcome)
	secs := s.end.Sub(s.intended).Seconds()
	// The span context in ctx lets an SDK attach the request's trace as an exemplar.
	ctx := r.exemplarContext(s.span)
	r.inst.requests.Add(ctx, 1, sr.countOpts...)
	r.inst.duration.Record(ctx, secs, sr.durationOpts...)
	sr.promCount.Inc()
	if s.span.IsSampled() {
		if eo, ok := sr.promDuration.(prometheus.ExemplarObserver); ok {
			eo.ObserveWithExemplar(secs, prometheus.Labels{"trace_id": s.span.TraceID().String()})
			return
		}
	}
	sr.promDuration.Observe(secs)
}

// exemplarContext carries a finished request's span context, for exemplars only.
func (r *runner) exemplarContext(sc trace.SpanContext) context.Context {
	if !sc.IsValid() {
		return r.baseCtx
	}
	return trace.ContextWithSpanContext(r.baseCtx, sc)
}

func (r *runner) missedStart(due time.Time) {
	r.rec.arrival(due, true)
	r.inst.missed.Add(r.baseCtx, 1)
	r.inst.promMissed.Inc()
}

// scenarioSeries caches one scenario's session handles: sessions start and end at the
// request rate in the -url mode, where each session is a single request.
type scenarioSeries struct {
	activeOpts []metric.AddOption
	promActive prometheus.Gauge
	ended      map[string]sessionEndSeries // by result; never written after creation
}

type sessionEndSeries struct {
	opts []metric.AddOption
	prom prometheus.Counter
}

func (in *instruments) scenario(name string) *scenarioSeries {
	if s, ok := in.scenarios.load(name); ok {
		return s
	}
	return in.scenarios.loadOrCreate(name, func() *scenarioSeries {
		s := &scenarioSeries{
			activeOpts: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("scenario", name)))},
			promActive: in.promActive.WithLabelValues(name),
			ended:      map[string]sessionEndSeries{},
		}
		for _, result := range []string{sessionCompleted, sessionFailed, sessionInterrupted} {
			s.ended[result] = sessionEndSeries{
				opts: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("scenario", name), attribute.String("result", result)))},
				prom: in.promSessions.WithLabelValues(name, result),
			}
		}
		return s
	})
}

func (in *instruments) sessionStarted(ctx context.Context, scenario string) {
	s := in.scenario(scenario)
	in.active.Add(ctx, 1, s.activeOpts...)
	s.promActive.Inc()
}

func (in *instruments) sessionEnded(ctx context.Context, scenario, result string) {
	s := in.scenario(scenario)
	in.active.Add(ctx, -1, s.activeOpts...)
	s.promActive.Dec()
	e := s.ended[result]
	in.sessions.Add(ctx, 1, e.opts...)
	e.prom.Inc()
}
