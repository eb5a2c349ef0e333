package localstack

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/shoptest"
)

// With the tail-sampling overlay (otel-collector.tail-sampling.yaml) the
// collector sends Jaeger every trace with an error, every trace slower than
// 500 ms and about one in ten of the rest, while the span metrics still count
// every span.
func TestStack_TailSamplingKeepsErrorsSlowTracesAndATenth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the collector, Jaeger and Prometheus (and builds them on a fresh machine)")
	}
	ctx := t.Context()
	root := repoRoot(t)
	startStack(t, func(p *Process) {
		if p.Name == "collector" {
			p.Args = append(p.Args, "--config", filepath.Join(root, "otel-collector.tail-sampling.yaml"))
		}
	})

	service := "tail-sampling-test-" + shoptest.RandomHex(4)
	const plain, failed, slow = 400, 5, 5
	// The plain traces go first: the sampler decides in the order traces arrive,
	// so once the later ones are in Jaeger, every plain one has been decided.
	plainIDs := sendTraces(t, service, plain, func(trace.Span) {}, 0)
	kept := append(sendTraces(t, service, failed, func(s trace.Span) { s.SetStatus(codes.Error, "declined") }, 0),
		sendTraces(t, service, slow, func(trace.Span) {}, 800*time.Millisecond)...)

	var inJaeger map[string]bool
	shoptest.Eventually(t, 60*time.Second, func() error {
		var err error
		if inJaeger, err = jaegerTraceIDs(ctx, service); err != nil {
			return err
		}
		for _, id := range kept {
			if !inJaeger[id] {
				return fmt.Errorf("trace %s (an error or slow) not in Jaeger yet; %d traces there", id, len(inJaeger))
			}
		}
		return nil
	})
	sampled := 0
	for _, id := range plainIDs {
		if inJaeger[id] {
			sampled++
		}
	}
	// One in ten of 400 is 40, with a standard deviation of 6.
	if sampled < 15 || sampled > 70 {
		t.Errorf("%d of %d plain traces reached Jaeger, want about a tenth", sampled, plain)
	}
	t.Logf("Jaeger holds all %d error and slow traces and %d of %d plain ones", len(kept), sampled, plain)

	calls := fmt.Sprintf(`sum(traces_span_metrics_calls_total{service_name=%q})`, service)
	want := fmt.Sprint(plain + failed + slow)
	shoptest.Eventually(t, 60*time.Second, func() error {
		got, err := promQuery(ctx, calls)
		if err == nil && got != want {
			err = fmt.Errorf("%s = %s, want %s: every span counted, sampled or not", calls, got, want)
		}
		return err
	})
}

// sendTraces sends n one-span traces of service through the collector, each
// shaped by shape and lasting took, and returns their trace ids.
func sendTraces(t *testing.T, service string, n int, shape func(trace.Span), took time.Duration) []string {
	t.Helper()
	exp, err := otlptracegrpc.New(t.Context(), otlptracegrpc.WithEndpoint(CollectorOTLPGRPC), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatalf("trace exporter: %v", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))),
		sdktrace.WithBatcher(exp))
	tracer := tp.Tracer("localstack_test")
	ids := make([]string, n)
	for i := range ids {
		end := time.Now()
		_, span := tracer.Start(t.Context(), "GET /api/products", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithTimestamp(end.Add(-took)))
		shape(span)
		span.End(trace.WithTimestamp(end))
		ids[i] = span.SpanContext().TraceID().String()
	}
	if err := tp.Shutdown(t.Context()); err != nil {
		t.Fatalf("flush spans: %v", err)
	}
	return ids
}

// jaegerTraceIDs lists the ids of the service's traces that Jaeger holds.
func jaegerTraceIDs(ctx context.Context, service string) (map[string]bool, error) {
	var body struct {
		Data []struct {
			TraceID string `json:"traceID"`
		} `json:"data"`
	}
	if err := shoptest.GetJSON(ctx, JaegerURL+"/api/traces?limit=2000&lookback=1h&service="+url.QueryEscape(service), &body); err != nil {
		return nil, err
	}
	ids := make(map[string]bool, len(body.Data))
	for _, tr := range body.Data {
		ids[tr.TraceID] = true
	}
	return ids, nil
}
