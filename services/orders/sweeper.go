package orders

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/telemetry"
)

// sweep is one pass of the sweeper: it finishes the checkouts abandoned for longer
// than olderThan, then retries the refunds still due.
func (s *saga) sweep(ctx context.Context, olderThan time.Duration) {
	if _, err := s.sweepPending(ctx, olderThan); err != nil && ctx.Err() == nil {
		s.logger.Warn("sweep abandoned checkouts", "error", err)
	}
	if _, err := s.settleRefunds(ctx); err != nil && ctx.Err() == nil {
		s.logger.Warn("settle refunds due", "error", err)
	}
}

// sweepPending finishes checkouts that died midway (the process was killed between
// steps): refund whatever was charged, release the stock, and mark them failed.
func (s *saga) sweepPending(ctx context.Context, olderThan time.Duration) (int, error) {
	stale, err := s.store.stalePending(telemetry.Unsampled(ctx), time.Now().Add(-olderThan), 50)
	if err != nil {
		return 0, err
	}
	for _, o := range stale {
		sctx, span := s.tracer.Start(ctx, "sweep abandoned checkout", trace.WithNewRoot(),
			trace.WithAttributes(attribute.String("shop.order.id", o.ID)))
		// Claim the order first: a saga still running can then no longer place it, and
		// will undo its own steps when it tries. The claim marks a refund due: a charge
		// may stand until payments says otherwise.
		claimed, err := s.store.markFailed(sctx, o.ID, reasonAbandoned, "", true)
		if err != nil || !claimed {
			if err != nil {
				span.RecordError(err)
			}
			span.End()
			continue
		}
		if s.refundByKey(sctx, paymentKey(o.ID)) == nil {
			s.settle(sctx, o.ID)
		}
		s.releaseStock(sctx, o.ID, reasonAbandoned)
		s.m.failures.Add(sctx, 1, metric.WithAttributes(attribute.String("reason", reasonAbandoned)))
		s.logger.WarnContext(sctx, "abandoned checkout cleaned up", "order_id", o.ID)
		span.End()
	}
	return len(stale), nil
}

// settleRefunds retries the refunds of failed orders marked refund_due, until
// payments confirms each charge refunded or never made: money taken for an order
// that failed is never simply logged and forgotten.
func (s *saga) settleRefunds(ctx context.Context) (int, error) {
	due, err := s.store.refundsDue(telemetry.Unsampled(ctx), 50)
	if err != nil {
		return 0, err
	}
	settled := 0
	for _, orderID := range due {
		sctx, span := s.tracer.Start(ctx, "settle refund", trace.WithNewRoot(),
			trace.WithAttributes(attribute.String("shop.order.id", orderID)))
		err := s.refundByKey(sctx, paymentKey(orderID))
		if err == nil && s.settle(sctx, orderID) {
			settled++
		} else if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "refund still due")
		}
		span.End()
	}
	owed, err := s.store.countRefundsDue(telemetry.Unsampled(ctx))
	if err != nil {
		return settled, err
	}
	s.m.refundsDue.Record(ctx, owed)
	return settled, nil
}

// settle clears an order's refund_due mark and says whether it did.
func (s *saga) settle(ctx context.Context, orderID string) bool {
	if err := s.store.refundSettled(ctx, orderID); err != nil {
		s.logger.ErrorContext(ctx, "refund confirmed but not recorded; it is checked again", "order_id", orderID, "error", err)
		return false
	}
	return true
}
