package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Without telemetry the client skips otelhttp and sends headers computed once per run;
// they must be what otelhttp would have sent: the synthetic-traffic baggage, and the
// caller's trace context when the run's context carries one. With an SDK the request
// continues the caller's trace in a span of its own.
func TestClient_TraceContextAndBaggage_WithAndWithoutTelemetry(t *testing.T) {
	caller := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
		Remote:     true,
	})
	for _, tc := range []struct {
		name    string
		tel     func(t *testing.T) Telemetry
		ownSpan bool // the request's span id differs from the caller's
	}{
		{"no telemetry", func(*testing.T) Telemetry { return Telemetry{} }, false},
		{"sdk", func(t *testing.T) Telemetry {
			tp := sdktrace.NewTracerProvider()
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			return Telemetry{TracerProvider: tp}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var headers []http.Header
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				headers = append(headers, r.Header.Clone())
				mu.Unlock()
				_, _ = w.Write([]byte("ok"))
			}))
			t.Cleanup(srv.Close)

			ctx := trace.ContextWithSpanContext(context.Background(), caller)
			res := runMain(t, ctx, tc.tel(t), "-url", srv.URL+"/", "-mode", "closed", "-vus", "2",
				"-think", "0", "-duration", "300ms", "-run-id", "test-headers")
			if res.err != nil {
				t.Fatalf("run: %v\n%s", res.err, res.stderr)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(headers) < 10 {
				t.Fatalf("%d requests, want at least 10", len(headers))
			}
			for _, h := range headers {
				bag, err := baggage.Parse(h.Get("Baggage"))
				if err != nil || bag.Member("synthetic").Value() != "true" || bag.Member("loadtest.run").Value() != "test-headers" {
					t.Fatalf("baggage %q (%v)", h.Get("Baggage"), err)
				}
				parts := strings.Split(h.Get("Traceparent"), "-")
				if len(parts) != 4 || parts[1] != caller.TraceID().String() {
					t.Fatalf("traceparent %q does not continue trace %s", h.Get("Traceparent"), caller.TraceID())
				}
				if own := parts[2] != caller.SpanID().String(); own != tc.ownSpan {
					t.Errorf("traceparent %q: own span %v, want %v", h.Get("Traceparent"), own, tc.ownSpan)
				}
				if !strings.Contains(h.Get("User-Agent"), "test-headers") || h.Get("Accept") != "application/json" {
					t.Errorf("user agent %q, accept %q", h.Get("User-Agent"), h.Get("Accept"))
				}
				if h.Get("Accept-Encoding") != "" {
					t.Errorf("accept-encoding %q: the gateway does not compress", h.Get("Accept-Encoding"))
				}
			}
		})
	}
}
