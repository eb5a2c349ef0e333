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

// settleLease is how long one replica may work on a failed order's refund and release
// before another may take the order over: long enough for a batch of retries through
// the clients' deadlines, short enough that a replica killed mid-way delays little.
const settleLease = time.Minute

// sweep is one pass of the sweeper: it finishes the checkouts abandoned for longer
// than olderThan, then retries the refunds and releases still due. Every replica runs
// it; each order is claimed by one of them (the claim of a pending order is a
// conditional update, and a settlement is leased).
func (s *saga) sweep(ctx context.Context, olderThan time.Duration) {
	if _, err := s.sweepPending(ctx, olderThan); err != nil && ctx.Err() == nil {
		s.logger.Warn("sweep abandoned checkouts", "error", err)
	}
	if _, err := s.settleDue(ctx); err != nil && ctx.Err() == nil {
		s.logger.Warn("settle refunds and releases due", "error", err)
	}
}

// sweepPending finishes checkouts that died midway (the process was killed between
// steps): refund whatever was charged, release the stock, and mark them failed.
func (s *saga) sweepPending(ctx context.Context, olderThan time.Duration) (int, error) {
	stale, err := s.store.stalePending(telemetry.Unsampled(ctx), time.Now().Add(-olderThan), 50)
	if err != nil {
		return 0, err
	}
	claimed := 0
	for _, o := range stale {
		sctx, span := s.tracer.Start(ctx, "sweep abandoned checkout", trace.WithNewRoot(),
			trace.WithAttributes(attribute.String("shop.order.id", o.ID)))
		// Claim the order first: a saga still running can then no longer place it, and
		// will undo its own steps when it tries; another replica's sweeper finds it
		// claimed. The claim marks the refund and the release due: a charge or a hold
		// may stand until payments and inventory say otherwise, whatever happens to
		// this process next.
		ok, err := s.store.claimFailed(sctx, o.ID, reasonAbandoned, "", settleLease)
		if err != nil || !ok {
			if err != nil {
				span.RecordError(err)
			}
			span.End()
			continue
		}
		claimed++
		s.settleOne(sctx, settlement{orderID: o.ID, reason: reasonAbandoned, refundDue: true, releaseDue: true})
		s.m.failures.Add(sctx, 1, metric.WithAttributes(attribute.String("reason", reasonAbandoned)))
		s.logger.WarnContext(sctx, "abandoned checkout cleaned up", "order_id", o.ID)
		span.End()
	}
	return claimed, nil
}

// settleDue retries the refunds and releases of failed orders marked refund_due or
// release_due, until payments confirms each charge refunded or never made and
// inventory each hold returned: money taken and stock held for an order that failed
// are never simply logged and forgotten.
func (s *saga) settleDue(ctx context.Context) (int, error) {
	due, err := s.store.claimSettlements(telemetry.Unsampled(ctx), 50, settleLease)
	if err != nil {
		return 0, err
	}
	settled := 0
	for _, st := range due {
		sctx, span := s.tracer.Start(ctx, "settle refund", trace.WithNewRoot(),
			trace.WithAttributes(attribute.String("shop.order.id", st.orderID),
				attribute.Bool("shop.order.refund_due", st.refundDue), attribute.Bool("shop.order.release_due", st.releaseDue)))
		if refunded, released := s.settleOne(sctx, st); refunded && released {
			settled++
		} else {
			span.SetStatus(codes.Error, "still due")
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

// settleOne refunds and releases what is due for an order this replica holds the
// claim on, records what was confirmed, and gives the claim up.
func (s *saga) settleOne(ctx context.Context, st settlement) (refunded, released bool) {
	refunded = !st.refundDue || s.refundByKey(ctx, paymentKey(st.orderID)) == nil
	released = !st.releaseDue || s.releaseStock(ctx, st.orderID, st.reason) == nil
	if err := s.store.settled(ctx, st.orderID, refunded, released); err != nil {
		s.logger.ErrorContext(ctx, "refund or release confirmed but not recorded; it is checked again", "order_id", st.orderID, "error", err)
		return false, false
	}
	return refunded, released
}
