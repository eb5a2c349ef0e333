package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/slogtest"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/telemetry"
)

func startInMemory(t testing.TB) (*telemetry.Telemetry, *tracetest.InMemoryExporter, *sdkmetric.ManualReader, *bytes.Buffer) {
	t.Helper()
	spans := tracetest.NewInMemoryExporter()
	reader := sdkmetric.NewManualReader()
	var out bytes.Buffer
	tel, err := telemetry.Start(context.Background(), telemetry.Config{
		ServiceName: "test", ServiceVersion: "1", Environment: "test",
		SpanExporter: spans, MetricReader: reader, LogExporter: discardLogs{}, LogOutput: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	return tel, spans, reader, &out
}

func TestHTTPServer_NamesSpansAndMetricsByRoute(t *testing.T) {
	tel, spans, reader, _ := startInMemory(t)
	mux := http.NewServeMux()
	var synthetic string
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		synthetic = baggage.FromContext(r.Context()).Member("synthetic").Value()
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	srv := httptest.NewServer(tel.HTTPServer(mux))
	defer srv.Close()

	// A caller's trace context and baggage are continued.
	req, _ := http.NewRequest("GET", srv.URL+"/items/42", nil)
	req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	req.Header.Set("baggage", "synthetic=true")
	for i, r := range []*http.Request{req, mustRequest("POST", srv.URL+"/fail"), mustRequest("GET", srv.URL+"/nowhere")} {
		r.Header.Set("User-Agent", fmt.Sprintf("agent-%d", i))
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if synthetic != "true" {
		t.Errorf("baggage member synthetic = %q in the handler, want true", synthetic)
	}
	tel.ForceFlush(context.Background())
	got := map[string]tracetest.SpanStub{}
	for _, s := range spans.GetSpans() {
		got[s.Name] = s
	}
	item, ok := got["GET /items/{id}"]
	if !ok {
		t.Fatalf("no span named by route; have %v", keys(got))
	}
	if item.Parent.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" || !item.Parent.IsRemote() {
		t.Errorf("the caller's trace was not continued: parent %v", item.Parent)
	}
	if fail := got["POST /fail"]; fail.Status.Code != codes.Error {
		t.Errorf("a 502 span has status %v, want error", fail.Status.Code)
	}
	if _, ok := got["GET"]; !ok {
		t.Errorf("an unrouted request should be named by its method only; have %v", keys(got))
	}
	// Each span carries its own request's attributes (the server reuses the arrays it
	// builds them in).
	host := strings.TrimPrefix(srv.URL, "http://")
	for name, want := range map[string]map[string]string{
		"GET /items/{id}": {"http.request.method": "GET", "url.path": "/items/42", "http.route": "/items/{id}", "http.response.status_code": "200", "user_agent.original": "agent-0"},
		"POST /fail":      {"http.request.method": "POST", "url.path": "/fail", "http.route": "/fail", "http.response.status_code": "502", "user_agent.original": "agent-1"},
		"GET":             {"http.request.method": "GET", "url.path": "/nowhere", "http.route": "", "http.response.status_code": "404", "user_agent.original": "agent-2"},
	} {
		span := got[name]
		if span.SpanKind != trace.SpanKindServer {
			t.Errorf("%s: kind %v, want server", name, span.SpanKind)
		}
		attrs := map[string]string{}
		for _, kv := range span.Attributes {
			attrs[string(kv.Key)] = kv.Value.Emit()
		}
		want["url.scheme"], want["server.address"] = "http", host
		for k, v := range want {
			if attrs[k] != v {
				t.Errorf("%s: %s = %q, want %q (all: %v)", name, k, attrs[k], v, attrs)
			}
		}
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	routes := map[string]int{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "http.server.request.duration" {
				continue
			}
			for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				route, _ := p.Attributes.Value("http.route")
				status, _ := p.Attributes.Value("http.response.status_code")
				routes[route.AsString()] = int(status.AsInt64())
				if _, hasErr := p.Attributes.Value("error.type"); hasErr != (status.AsInt64() >= 500) {
					t.Errorf("error.type present=%v for status %d", hasErr, status.AsInt64())
				}
			}
		}
	}
	if routes["/items/{id}"] != 200 || routes["/fail"] != 502 || routes[""] != 404 {
		t.Errorf("duration by route: %v", routes)
	}
}

func TestLogs_StampTraceContext(t *testing.T) {
	tel, _, _, out := startInMemory(t)
	ctx, span := tel.Tracer("test").Start(context.Background(), "work")
	tel.Logger.InfoContext(ctx, "inside")
	span.End()
	tel.Logger.Info("outside")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var inside, outside map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		switch m["msg"] {
		case "inside":
			inside = m
		case "outside":
			outside = m
		}
	}
	if inside["trace_id"] != span.SpanContext().TraceID().String() || inside["span_id"] != span.SpanContext().SpanID().String() {
		t.Errorf("record inside a span: %v", inside)
	}
	if _, ok := outside["trace_id"]; ok {
		t.Errorf("record outside any span has a trace id: %v", outside)
	}
}

// The JSON handler with trace stamping still behaves as a slog.Handler should.
func TestLogs_HandlerConformance(t *testing.T) {
	var buf bytes.Buffer
	tel, err := telemetry.Start(context.Background(), telemetry.Config{ServiceName: "test", Disabled: true, LogOutput: &buf, LogLevel: slog.LevelDebug})
	if err != nil {
		t.Fatal(err)
	}
	slogtest.Run(t, func(*testing.T) slog.Handler { buf.Reset(); return tel.Logger.Handler() }, func(t *testing.T) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	})
}

// A collector that never answers must not hold up the code being traced: spans beyond
// the bounded queue are dropped, not waited for, and the drops are counted.
func TestSpans_ExporterStuck_DoesNotBlockAndCountsDrops(t *testing.T) {
	stuck := blockingExporter{release: make(chan struct{})}
	defer close(stuck.release)
	reader := sdkmetric.NewManualReader()
	tel, err := telemetry.Start(context.Background(), telemetry.Config{
		ServiceName: "test", ProcessWide: true, SpanExporter: stuck, MetricReader: reader, LogExporter: discardLogs{}, LogOutput: &bytes.Buffer{},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		tracer := tel.Tracer("test")
		for range 20_000 { // ten times the default queue
			_, span := tracer.Start(context.Background(), "work")
			span.End()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("ending spans blocked behind a stuck exporter")
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var dropped int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "otel.sdk.processor.span.processed" {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if v, _ := p.Attributes.Value("error.type"); v.AsString() == "queue_full" {
					dropped += p.Value
				}
			}
		}
	}
	if dropped < 10_000 {
		t.Errorf("%d dropped spans counted, want most of the 20000 beyond the queue", dropped)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = tel.Shutdown(ctx) // times out against the stuck exporter, which is the point
}

// Start never fails because the collector is absent.
func TestStart_NoCollector(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	tel, err := telemetry.Start(context.Background(), telemetry.Config{ServiceName: "test", ProcessWide: true, LogOutput: &bytes.Buffer{}})
	if err != nil {
		t.Fatalf("start without a collector: %v", err)
	}
	_, span := tel.Tracer("t").Start(context.Background(), "x")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = tel.Shutdown(ctx)
	if tel.Registry == nil {
		t.Error("a process-wide telemetry has no Prometheus registry")
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"OTEL_SDK_DISABLED": "TRUE", "PYROSCOPE_SERVER_ADDRESS": "http://p:4040", "LOG_LEVEL": "debug"}
	cfg := telemetry.ConfigFromEnv("svc", "v1", func(k string) string { return env[k] })
	if !cfg.Disabled || cfg.PyroscopeAddress != "http://p:4040" || cfg.LogLevel != slog.LevelDebug || cfg.Environment != "local" {
		t.Errorf("config: %+v", cfg)
	}
}

type blockingExporter struct{ release chan struct{} }

func (b blockingExporter) ExportSpans(ctx context.Context, _ []sdktrace.ReadOnlySpan) error {
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return ctx.Err()
}
func (b blockingExporter) Shutdown(context.Context) error { return nil }

func mustRequest(method, url string) *http.Request {
	r, _ := http.NewRequest(method, url, nil)
	return r
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// BenchmarkHTTPServer measures what the server instrumentation adds to a request:
// compare bare, telemetry.HTTPServer and otelhttp.NewHandler (ns/op, allocs/op).
func BenchmarkHTTPServer(b *testing.B) {
	// The real SDK pipeline (batcher, metric aggregation) with exporters that discard,
	// so the figure is the instrumentation's cost, not an exporter's.
	tel, err := telemetry.Start(context.Background(), telemetry.Config{
		ServiceName: "bench", SpanExporter: discardSpans{}, MetricReader: sdkmetric.NewManualReader(),
		LogExporter: discardLogs{}, LogOutput: &bytes.Buffer{},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", mux},
		{"telemetry", tel.HTTPServer(mux)},
		{"otelhttp", otelhttp.NewHandler(mux, "server", otelhttp.WithTracerProvider(tel.TracerProvider),
			otelhttp.WithMeterProvider(tel.MeterProvider), otelhttp.WithPropagators(tel.Propagator))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/items/42", nil)
			req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(w, req)
			}
		})
	}
}
