package loadtest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Telemetry is what the load generator needs from the process's telemetry set-up. Any
// nil field falls back to a no-op (or, for Registry, a private registry), so the
// generator also runs with no telemetry wired at all.
type Telemetry struct {
	TracerProvider trace.TracerProvider
	// MeterProvider receives the generator's metrics (internal/metrics).
	MeterProvider metric.MeterProvider
	// Propagator injects trace context and baggage into every request. Baggage is added
	// when the given propagator does not carry it, because marking traffic synthetic is
	// not optional.
	Propagator propagation.TextMapPropagator
	// Registry is what -metrics-addr serves. The generator's metrics are on it when
	// MeterProvider has an OpenTelemetry Prometheus exporter registered on Registry
	// among its readers; with no MeterProvider (nil or a no-op), the generator makes one
	// that has, for the length of the run, when -metrics-addr is set.
	Registry *prometheus.Registry

	// traced says the tracer or the meter provider records, so requests go through
	// otelhttp. With both no-ops, otelhttp would only make non-recording spans and no-op
	// measurements; the propagator's headers are then computed once (see
	// gateway.NewClient).
	traced bool
	// metered says MeterProvider records.
	metered bool
}

func (t Telemetry) withDefaults() Telemetry {
	if t.TracerProvider == nil {
		t.TracerProvider = tracenoop.NewTracerProvider()
	}
	if t.MeterProvider == nil {
		t.MeterProvider = metricnoop.NewMeterProvider()
	}
	switch {
	case t.Propagator == nil:
		t.Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	case !slices.Contains(t.Propagator.Fields(), "baggage"):
		t.Propagator = propagation.NewCompositeTextMapPropagator(t.Propagator, propagation.Baggage{})
	}
	if t.Registry == nil {
		t.Registry = prometheus.NewRegistry()
	}
	_, noTraces := t.TracerProvider.(tracenoop.TracerProvider)
	_, noMetrics := t.MeterProvider.(metricnoop.MeterProvider)
	t.traced = !noTraces || !noMetrics
	t.metered = !noMetrics
	return t
}

// Exit codes Main's errors map to (see ExitCode).
const (
	ExitFailure     = 1   // the run could not be carried out (report files, listener, …)
	ExitUsage       = 2   // invalid flags or scenario parameters; no request was sent
	ExitThresholds  = 99  // the run completed but a threshold was broken (k6 uses 99 too)
	ExitInterrupted = 130 // the context was cancelled (Ctrl-C); the report covers what ran
)

// ExitError is the error Main returns when the process should end with a specific code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps an error returned by Main to a process exit code: 0 for nil, the
// ExitError's code when there is one, ExitFailure otherwise.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := errors.AsType[*ExitError](err); ok {
		return ee.Code
	}
	return ExitFailure
}

// Main runs `shop loadgen`. args are the flags after the subcommand name. It returns
// nil when the run completed and every threshold held; otherwise an error that
// ExitCode maps to the exit code. The text summary goes to stdout, diagnostics to
// stderr. Cancelling ctx ends the run early and still reports what ran.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, tel Telemetry) error {
	cfg, err := parseConfig(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stderr)
		return nil
	}
	if err != nil {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("loadgen: %w (see 'shop loadgen -h')", err)}
	}
	return run(ctx, cfg, stdout, stderr, tel.withDefaults())
}
