package telemetry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelshop/shop/internal/shoptest"
	"github.com/otelshop/shop/telemetry"
)

// CPU time spent inside a span shows in the uploaded CPU profile under that span's id,
// and the span carries pyroscope.profile.id: the link from a trace to its flame graph.
func TestProfiles_CPUSamplesCarrySpanIDs(t *testing.T) {
	fake := shoptest.StartFakePyroscope(t)
	spans := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Start(context.Background(), telemetry.Config{
		ServiceName: "profiled", ProcessWide: true, PyroscopeAddress: fake.URL, ProfileUploadRate: time.Second,
		SpanExporter: spans, MetricReader: sdkmetric.NewManualReader(), LogExporter: discardLogs{}, LogOutput: &bytes.Buffer{},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := tel.Tracer("test").Start(context.Background(), "burn cpu")
	spanID := span.SpanContext().SpanID().String()
	burn(ctx, 2500*time.Millisecond)
	span.End()
	time.Sleep(1500 * time.Millisecond) // one more upload period
	tel.ForceFlush(context.Background())
	got := spans.GetSpans() // before Shutdown, which empties the in-memory exporter
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	if len(fake.Uploads()) == 0 {
		t.Fatal("no profile was uploaded")
	}
	if samples := fake.SpanSamples("profiled"); samples[spanID] == 0 {
		t.Errorf("no CPU sample labelled with span %s; span-labelled samples: %v", spanID, samples)
	}
	if len(got) != 1 {
		t.Fatalf("%d spans", len(got))
	}
	found := false
	for _, kv := range got[0].Attributes {
		if kv.Key == "pyroscope.profile.id" && kv.Value.AsString() == spanID {
			found = true
		}
	}
	if !found {
		t.Errorf("the local root span has no pyroscope.profile.id=%s: %v", spanID, got[0].Attributes)
	}
}

func burn(ctx context.Context, d time.Duration) {
	sum := sha256.Sum256(nil)
	for end := time.Now().Add(d); time.Now().Before(end); {
		for range 1000 {
			sum = sha256.Sum256(sum[:])
		}
	}
	_ = ctx
}
