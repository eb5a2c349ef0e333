package inventory

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/telemetry"
)

// expireDue releases holds whose orders never completed (the orders process died
// mid-checkout, say), so stock is never lost to an abandoned saga: every hold now due, each in a span of its own ("reservation
// expire") linked to the checkout that made the hold.
func (s *server) expireDue(ctx context.Context) {
	due, err := s.store.due(telemetry.Unsampled(ctx), 100)
	if err != nil {
		if ctx.Err() == nil {
			s.tel.Logger.WarnContext(ctx, "look for expired reservations", "error", err)
		}
		return
	}
	for _, d := range due {
		opts := []trace.SpanStartOption{
			trace.WithNewRoot(),
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(attribute.String("shop.order.id", d.OrderID)),
		}
		if sc := telemetry.SpanContextFromTraceparent(d.Traceparent); sc.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc,
				Attributes: []attribute.KeyValue{attribute.String("shop.link", "reserved by")}}))
		}
		sctx, span := s.tracer.Start(ctx, "reservation expire", opts...)
		released, err := s.store.expire(sctx, d.OrderID)
		switch {
		case err != nil:
			span.RecordError(err)
			span.SetStatus(codes.Error, "release failed")
			s.tel.Logger.WarnContext(sctx, "release expired reservation", "order_id", d.OrderID, "error", err)
		case released:
			s.count(sctx, "expire", statusReleased)
			s.tel.Logger.InfoContext(sctx, "released expired reservation", "order_id", d.OrderID)
		}
		span.SetAttributes(attribute.Bool("shop.inventory.released", released))
		span.End()
	}
}
