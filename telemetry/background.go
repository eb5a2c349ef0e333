package telemetry

import (
	"context"
	"crypto/rand"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Unsampled returns ctx under an unsampled parent, so that the spans a parent-based
// sampler would make below it (a poll query every few seconds, say) are dropped. The
// background loops use it for their idle polling; the work they find gets spans of its own.
func Unsampled(ctx context.Context) context.Context {
	var tid trace.TraceID
	var sid trace.SpanID
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(sid[:])
	return trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
}

// Traceparent returns the W3C traceparent of the span in ctx, for storing with work that
// is done later (an outbox row, a reservation) so that the later work can link to it.
func Traceparent(ctx context.Context) string {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return carrier["traceparent"]
}

// SpanContextFromTraceparent parses what Traceparent stored; invalid input gives an
// invalid span context.
func SpanContextFromTraceparent(tp string) trace.SpanContext {
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": tp})
	return trace.SpanContextFromContext(ctx)
}
