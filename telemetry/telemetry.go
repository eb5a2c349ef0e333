// Package telemetry is the one entry point every process of the shop calls to wire
// traces, metrics, logs and profiles. It owns the OpenTelemetry SDK set-up, the
// process-wide signals (Go runtime metrics, continuous profiles, the client_golang
// registry behind /metrics) and the instrumentation helpers the services share.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/instrumentation/runtime"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/log"
	lognoop "go.opentelemetry.io/otel/log/noop"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Namespace is the service.namespace of every process of the shop.
const Namespace = "shop"

// Config says what to wire. ConfigFromEnv fills it from the standard OTEL_* variables;
// the exporter fields exist for tests, which capture signals in memory.
type Config struct {
	ServiceName    string
	ServiceVersion string
	Environment    string // deployment.environment.name
	LogLevel       slog.Level
	LogOutput      io.Writer // JSON log lines; os.Stdout when nil

	// Disabled turns every signal but the JSON log off (OTEL_SDK_DISABLED=true).
	Disabled bool
	// ProcessWide makes this Telemetry also report what belongs to the whole process:
	// Go runtime metrics, continuous profiles and the Prometheus registry. Exactly one
	// Telemetry per process sets it.
	ProcessWide bool
	// PyroscopeAddress is where profiles go; empty turns profiling off.
	PyroscopeAddress string
	// ProfileUploadRate is how often profiles are sent; 0 means pyroscope-go's 15 s.
	ProfileUploadRate time.Duration
	// MetricExportInterval, when not zero, replaces the SDK's 60 s default export
	// interval unless OTEL_METRIC_EXPORT_INTERVAL is set.
	MetricExportInterval time.Duration
	// PrometheusMetrics (with ProcessWide) also puts the OpenTelemetry metrics on
	// Registry, through the OpenTelemetry Prometheus exporter as a second reader, for a
	// process whose /metrics is read as it is (the load generator's -metrics-addr)
	// rather than through the collector, which already gets them over OTLP.
	PrometheusMetrics bool

	// When set, these replace the exporters chosen from OTEL_* variables.
	SpanExporter sdktrace.SpanExporter
	MetricReader sdkmetric.Reader
	LogExporter  sdklog.Exporter
}

// ConfigFromEnv reads the standard variables. The OTLP exporters read theirs
// (OTEL_EXPORTER_OTLP_*, OTEL_*_EXPORTER, OTEL_BSP_*, OTEL_METRIC_EXPORT_INTERVAL) themselves.
func ConfigFromEnv(serviceName, version string, getenv func(string) string) Config {
	cfg := Config{
		ServiceName:      serviceName,
		ServiceVersion:   version,
		Environment:      getenv("DEPLOYMENT_ENVIRONMENT"),
		Disabled:         strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true"),
		PyroscopeAddress: getenv("PYROSCOPE_SERVER_ADDRESS"),
	}
	if cfg.Environment == "" {
		cfg.Environment = "local"
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(getenv("LOG_LEVEL"))); err != nil {
		cfg.LogLevel = slog.LevelInfo
	}
	return cfg
}

// Telemetry is one service's set of providers. Pass it to the code that needs it;
// nothing in the shop reads OpenTelemetry globals.
type Telemetry struct {
	ServiceName    string
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	LoggerProvider log.LoggerProvider
	Propagator     propagation.TextMapPropagator
	Logger         *slog.Logger
	// Registry holds the client_golang collectors served on /metrics; nil unless ProcessWide.
	Registry *prometheus.Registry

	flushers  []func(context.Context) error
	shutdowns []func(context.Context) error
}

// Start wires every signal for one service and returns it with a Shutdown that flushes
// and stops them all. A collector or profiler that is down never fails Start: exporters
// connect lazily and queue in bounded buffers.
func Start(ctx context.Context, cfg Config) (*Telemetry, error) {
	if cfg.ServiceName == "" {
		return nil, errors.New("telemetry: service name is required")
	}
	out := cfg.LogOutput
	if out == nil {
		out = os.Stdout
	}
	t := &Telemetry{
		ServiceName: cfg.ServiceName,
		Propagator:  propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
	if cfg.ProcessWide {
		t.Registry = prometheus.NewRegistry()
		t.Registry.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
	}
	if cfg.Disabled {
		t.TracerProvider = tracenoop.NewTracerProvider()
		t.MeterProvider = metricnoop.NewMeterProvider()
		t.LoggerProvider = lognoop.NewLoggerProvider()
		t.Logger = slog.New(newJSONHandler(out, cfg.LogLevel)).With("service", cfg.ServiceName)
		return t, nil
	}

	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	setExporterDefaults(cfg.MetricExportInterval)
	if cfg.ProcessWide {
		// Bounded queues drop when the collector cannot keep up; the SDK counts the
		// drops (otel.sdk.processor.span.processed{error.type="queue_full"} and its
		// siblings) when its self-observability is on, through the global meter
		// provider, which the process-wide telemetry owns. On unless set to false.
		if _, set := os.LookupEnv("OTEL_GO_X_OBSERVABILITY"); !set {
			os.Setenv("OTEL_GO_X_OBSERVABILITY", "true")
		}
	}
	if err := t.startMetrics(ctx, cfg, res); err != nil {
		return nil, errors.Join(err, t.Shutdown(ctx))
	}
	if cfg.ProcessWide {
		otel.SetMeterProvider(t.MeterProvider)
	}
	if err := t.startTraces(ctx, cfg, res); err != nil {
		return nil, errors.Join(err, t.Shutdown(ctx))
	}
	if err := t.startLogs(ctx, cfg, res, out); err != nil {
		return nil, errors.Join(err, t.Shutdown(ctx))
	}
	if cfg.ProcessWide {
		otel.SetTracerProvider(t.TracerProvider)
		otel.SetTextMapPropagator(t.Propagator)
		// Export errors go to stdout only: sending them through OTLP to the collector that
		// is failing would feed the failure.
		otel.SetErrorHandler(newExportErrorHandler(slog.New(newJSONHandler(out, cfg.LogLevel)), time.Minute))
		if err := runtime.Start(runtime.WithMeterProvider(t.MeterProvider)); err != nil {
			return nil, errors.Join(fmt.Errorf("telemetry: runtime metrics: %w", err), t.Shutdown(ctx))
		}
		if err := startProcessMetrics(t.Meter("github.com/otelshop/shop/telemetry/process")); err != nil {
			return nil, errors.Join(fmt.Errorf("telemetry: process metrics: %w", err), t.Shutdown(ctx))
		}
		if cfg.PyroscopeAddress != "" {
			stop, err := startProfiler(cfg, t.Logger)
			if err != nil {
				// Profiles are worth having, not worth refusing to start for.
				t.Logger.Warn("continuous profiling is off", "error", err)
			} else {
				t.shutdowns = append(t.shutdowns, stop)
			}
		}
	}
	if cfg.PyroscopeAddress != "" {
		t.TracerProvider = wrapForProfiles(t.TracerProvider)
	}
	return t, nil
}

func (t *Telemetry) startTraces(ctx context.Context, cfg Config, res resourceT) error {
	exp := cfg.SpanExporter
	if exp == nil {
		var err error
		if exp, err = autoexport.NewSpanExporter(ctx); err != nil {
			return fmt.Errorf("telemetry: span exporter: %w", err)
		}
	}
	// No WithSampler: the SDK then honours OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG,
	// defaulting to parentbased_always_on.
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithBatcher(exp),
		sdktrace.WithSpanLimits(spanLimits()),
	)
	t.TracerProvider = tp
	t.flushers = append(t.flushers, tp.ForceFlush)
	t.shutdowns = append(t.shutdowns, tp.Shutdown)
	return nil
}

func (t *Telemetry) startMetrics(ctx context.Context, cfg Config, res resourceT) error {
	reader := cfg.MetricReader
	if reader == nil {
		var err error
		if reader, err = autoexport.NewMetricReader(ctx); err != nil {
			return fmt.Errorf("telemetry: metric reader: %w", err)
		}
	}
	opts := []sdkmetric.Option{
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(reader),
		sdkmetric.WithView(durationBuckets),
		// Exemplars: the SDK default filter is trace_based, so every measurement made
		// inside a sampled span can carry that span's ids.
	}
	if cfg.PrometheusMetrics && t.Registry != nil {
		// Made before anything serves the registry: the exporter's registration races
		// with a concurrent Gather (v0.69.0).
		exp, err := otelprom.New(otelprom.WithRegisterer(t.Registry))
		if err != nil {
			return fmt.Errorf("telemetry: prometheus exporter: %w", err)
		}
		opts = append(opts, sdkmetric.WithReader(exp))
	}
	mp := sdkmetric.NewMeterProvider(opts...)
	t.MeterProvider = mp
	t.flushers = append(t.flushers, mp.ForceFlush)
	t.shutdowns = append(t.shutdowns, mp.Shutdown)
	return nil
}

func (t *Telemetry) startLogs(ctx context.Context, cfg Config, res resourceT, out io.Writer) error {
	exp := cfg.LogExporter
	if exp == nil {
		var err error
		if exp, err = autoexport.NewLogExporter(ctx); err != nil {
			return fmt.Errorf("telemetry: log exporter: %w", err)
		}
	}
	opts := []sdklog.LoggerProviderOption{
		sdklog.WithResource(res),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)),
	}
	if !lengthLimitSet("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT") {
		opts = append(opts, sdklog.WithAttributeValueLengthLimit(AttributeValueLengthLimit))
	}
	lp := sdklog.NewLoggerProvider(opts...)
	t.LoggerProvider = lp
	t.flushers = append(t.flushers, lp.ForceFlush)
	t.shutdowns = append(t.shutdowns, lp.Shutdown)
	t.Logger = slog.New(slog.NewMultiHandler(
		newJSONHandler(out, cfg.LogLevel),
		newOTLPHandler(lp, cfg.LogLevel),
	))
	return nil
}

// AttributeValueLengthLimit bounds every span and log attribute value, in
// characters, where no OTEL_* variable sets a limit: a request's path or user
// agent can then not make a span larger than a few kilobytes.
// OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT (or the per-signal
// OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT)
// overrides it; the SDK's own default is no limit.
const AttributeValueLengthLimit = 1024

// lengthLimitSet says whether the operator set an attribute length limit for a
// signal (its own variable or the general one).
func lengthLimitSet(signalVar string) bool {
	return os.Getenv(signalVar) != "" || os.Getenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT") != ""
}

// spanLimits are the SDK's limits from the OTEL_* variables, with the shop's
// attribute length limit where none is set.
func spanLimits() sdktrace.SpanLimits {
	l := sdktrace.NewSpanLimits()
	if !lengthLimitSet("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT") {
		l.AttributeValueLengthLimit = AttributeValueLengthLimit
	}
	return l
}

// Tracer returns the service's tracer for the named instrumentation scope.
func (t *Telemetry) Tracer(scope string) trace.Tracer { return t.TracerProvider.Tracer(scope) }

// Meter returns the service's meter for the named instrumentation scope.
func (t *Telemetry) Meter(scope string) metric.Meter { return t.MeterProvider.Meter(scope) }

// ForceFlush exports everything buffered so far.
func (t *Telemetry) ForceFlush(ctx context.Context) error {
	var errs []error
	for _, f := range t.flushers {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

// Shutdown flushes and stops every signal, in reverse order of start.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(t.shutdowns) - 1; i >= 0; i-- {
		errs = append(errs, t.shutdowns[i](ctx))
	}
	t.shutdowns = nil
	return errors.Join(errs...)
}
