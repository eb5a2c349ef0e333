package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/resilience"
	"github.com/otelshop/shop/services/cart"
	"github.com/otelshop/shop/services/catalog"
	"github.com/otelshop/shop/services/inventory"
	"github.com/otelshop/shop/services/payments"
	"github.com/otelshop/shop/telemetry"
)

// What the saga needs of each service it calls and of its own store: small
// interfaces, so that every step and every compensation can be tested without
// the services or the stores (saga_test.go).
type (
	// carts reads and clears the cart of the user in the context.
	carts interface {
		Get(ctx context.Context) (cart.Cart, error)
		Clear(ctx context.Context) error
	}
	prices interface {
		Products(ctx context.Context, ids []string) (map[string]catalog.Product, error)
	}
	stock interface {
		Reserve(ctx context.Context, orderID string, items []inventory.Item) error
		Commit(ctx context.Context, orderID string) error
		Release(ctx context.Context, orderID, reason string) error
		Restock(ctx context.Context, orderID, reason string) error
	}
	charges interface {
		Charge(ctx context.Context, key string, amountCents int64, card payments.Card) (payments.Charge, error)
		Void(ctx context.Context, key string) (payments.Charge, error)
		Refund(ctx context.Context, chargeID string) (payments.Refund, error)
	}
	orderStore interface {
		byIdempotencyKey(ctx context.Context, userID, key string) (Order, error)
		createPending(ctx context.Context, o *Order) error
		liveByCartVersion(ctx context.Context, userID string, version int64) (Order, error)
		markPlaced(ctx context.Context, orderID, paymentID string, ev OutboxEvent) error
		markFailed(ctx context.Context, orderID, reason, paymentID string, refundDue bool) (bool, error)
		stalePending(ctx context.Context, cutoff time.Time, limit int) ([]Order, error)
		claimFailed(ctx context.Context, orderID, reason, paymentID string, lease time.Duration) (bool, error)
		orderStatus(ctx context.Context, orderID string) (string, error)
		markReleaseDue(ctx context.Context, orderID string) error
		claimSettlements(ctx context.Context, limit int, lease time.Duration) ([]settlement, error)
		settled(ctx context.Context, orderID string, refunded, released bool) error
		countRefundsDue(ctx context.Context) (int64, error)
	}
)

type sagaDeps struct {
	cart      carts
	catalog   prices
	inventory stock
	payments  charges
	store     orderStore
	placed    func() // told when an order is placed: its event waits in the outbox
}

// saga runs checkouts and their backstops: reserve stock, charge the card, commit the
// stock, then mark the order placed and write its event in one transaction; every
// failure undoes what came before (release the stock, refund the charge) and records
// why on the order. The sweeper finishes checkouts a dead process left midway and
// retries refunds payments did not confirm.
type saga struct {
	sagaDeps
	logger *slog.Logger
	tracer trace.Tracer
	m      checkoutMetrics
}

func newSaga(d sagaDeps, tel *telemetry.Telemetry) *saga {
	return &saga{sagaDeps: d, logger: tel.Logger, tracer: tel.Tracer(scope), m: newCheckoutMetrics(tel.Meter(scope))}
}

// errKeyReused: an idempotency key names one checkout; another request with it is
// refused, never answered with the first one's order (Stripe answers the same).
var errKeyReused = &httpx.Error{Status: http.StatusUnprocessableEntity, Code: "idempotency_key_reused",
	Message: "this Idempotency-Key was used for a different checkout; use a new key"}

// checkout prices the cart, stores the order as pending and runs the saga. A
// checkout seen before is answered with its order: by idempotency key (when the
// request is the same), or by the version of the cart (two checkouts of one cart
// at once are one).
func (s *saga) checkout(ctx context.Context, userID, idempotencyKey string, req checkoutRequest) (Order, error) {
	start := time.Now()
	span := trace.SpanFromContext(ctx)
	fingerprint := req.fingerprint()
	replay := func(o Order) (Order, error) {
		if o.RequestHash != fingerprint {
			return Order{}, errKeyReused
		}
		span.SetAttributes(attribute.Bool("shop.checkout.replayed", true))
		return o, nil
	}
	if idempotencyKey != "" {
		if o, err := s.store.byIdempotencyKey(ctx, userID, idempotencyKey); err == nil {
			return replay(o)
		} else if !errors.Is(err, errNoOrder) {
			return Order{}, err
		}
	}

	c, err := s.cart.Get(ctx)
	if err != nil {
		return Order{}, fmt.Errorf("read cart: %w", err)
	}
	if len(c.Items) == 0 {
		s.m.failed(ctx, reasonEmptyCart, start)
		return Order{}, httpx.Conflict(reasonEmptyCart, "the cart is empty")
	}
	ids := make([]string, len(c.Items))
	for i, it := range c.Items {
		ids[i] = it.ProductID
	}
	products, err := s.catalog.Products(ctx, ids)
	if err != nil {
		return Order{}, fmt.Errorf("price cart: %w", err)
	}
	id, _ := uuid.NewV7()
	o := Order{ID: id.String(), UserID: userID, Status: StatusPending, Currency: "USD",
		ShippingAddress: req.ShippingAddress, IdempotencyKey: idempotencyKey, RequestHash: fingerprint, CartVersion: c.Version}
	units := 0
	for _, it := range c.Items {
		p, ok := products[it.ProductID]
		if !ok {
			s.m.failed(ctx, reasonUnknownProduct, start)
			return Order{}, httpx.Conflict(reasonUnknownProduct, "the cart holds a product no longer sold: "+it.ProductID)
		}
		o.Items = append(o.Items, Item{ProductID: it.ProductID, Quantity: it.Quantity, PriceCents: p.PriceCents})
		o.TotalCents += p.PriceCents * int64(it.Quantity)
		units += it.Quantity
	}
	span.SetAttributes(
		attribute.String("shop.order.id", o.ID),
		attribute.Int("shop.order.items", len(o.Items)),
		attribute.Int("shop.order.units", units),
		attribute.Int64("shop.order.total_cents", o.TotalCents))

	switch err := s.store.createPending(ctx, &o); {
	case errors.Is(err, errDuplicate):
		// The same key, sent twice at once: answer as the first.
		first, err := s.store.byIdempotencyKey(ctx, userID, idempotencyKey)
		if err != nil {
			return Order{}, err
		}
		return replay(first)
	case errors.Is(err, errCartInFlight):
		// This cart is being bought, or was: one checkout, one charge.
		span.SetAttributes(attribute.Bool("shop.checkout.same_cart", true))
		return s.store.liveByCartVersion(ctx, userID, c.Version)
	case err != nil:
		return Order{}, err
	}
	o, err = s.run(ctx, o, req.card(), start)
	if err != nil {
		return o, err
	}
	// The order stands; an uncleared cart is an annoyance, not a failure.
	if err := s.cart.Clear(ctx); err != nil {
		s.logger.WarnContext(ctx, "order placed but the cart was not cleared", "order_id", o.ID, "error", err)
	}
	return o, nil
}

// failure is how a checkout ended when it did not place its order.
type failure struct {
	reason    string // recorded on the order and counted
	chargeID  string // the charge made, if any
	refundDue bool   // payments has not confirmed that nothing stands charged
	err       error  // the answer to the caller
}

var errUnavailable = httpx.Unavailable("a service the checkout needs is unavailable; nothing was charged, try again")

func paymentKey(orderID string) string { return "order-" + orderID }

// run is the saga proper, for an order stored as pending.
func (s *saga) run(ctx context.Context, o Order, card payments.Card, start time.Time) (Order, error) {
	items := make([]inventory.Item, len(o.Items))
	for i, it := range o.Items {
		items[i] = inventory.Item{ProductID: it.ProductID, Quantity: int32(it.Quantity)}
	}
	step(ctx, "reserve stock")
	if err := s.inventory.Reserve(ctx, o.ID, items); err != nil {
		if errors.Is(err, inventory.ErrInsufficientStock) || errors.Is(err, inventory.ErrUnknownProduct) {
			return s.fail(ctx, o, start, failure{reason: reasonOutOfStock,
				err: httpx.Conflict(reasonOutOfStock, "not enough stock for this order")})
		}
		// The hold may exist even though the answer was lost: release it.
		s.releaseStock(ctx, o.ID, reasonInventoryDown)
		return s.fail(ctx, o, start, failure{reason: reasonInventoryDown,
			err: fmt.Errorf("reserve stock: %w", errors.Join(err, errUnavailable))})
	}

	step(ctx, "charge payment")
	key := paymentKey(o.ID)
	charge, err := s.payments.Charge(ctx, key, o.TotalCents, card)
	if err != nil {
		// No answer: the charge may have happened. Look it up by key and refund it;
		// unless the breaker refused the call, in which case nothing was sent.
		refundDue := false
		if !errors.Is(err, resilience.ErrOpen) {
			refundDue = s.refundByKey(ctx, key) != nil
		}
		s.releaseStock(ctx, o.ID, reasonPaymentDown)
		return s.fail(ctx, o, start, failure{reason: reasonPaymentDown, refundDue: refundDue,
			err: fmt.Errorf("charge: %w", errors.Join(err, errUnavailable))})
	}
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.String("shop.payment.status", string(charge.Status)))
	if charge.Status != payments.ChargeSucceeded {
		s.releaseStock(ctx, o.ID, reasonPaymentDeclined)
		span.SetAttributes(attribute.String("shop.payment.decline_reason", charge.DeclineReason))
		return s.fail(ctx, o, start, failure{reason: reasonPaymentDeclined, chargeID: charge.ID,
			err: &httpx.Error{Status: http.StatusPaymentRequired, Code: reasonPaymentDeclined, Message: "the payment was declined: " + charge.DeclineReason}})
	}

	step(ctx, "commit stock")
	if err := s.inventory.Commit(ctx, o.ID); err != nil {
		refundDue := s.refund(ctx, charge.ID) != nil
		if errors.Is(err, inventory.ErrNotHeld) {
			return s.fail(ctx, o, start, failure{reason: reasonReservationExpired, chargeID: charge.ID, refundDue: refundDue,
				err: httpx.Conflict(reasonReservationExpired, "the stock held for this order was released; try again")})
		}
		s.releaseStock(ctx, o.ID, reasonInventoryDown)
		return s.fail(ctx, o, start, failure{reason: reasonInventoryDown, chargeID: charge.ID, refundDue: refundDue,
			err: fmt.Errorf("commit stock: %w", errors.Join(err, errUnavailable))})
	}

	step(ctx, "place order")
	msgID, _ := uuid.NewV7()
	payload, err := json.Marshal(OrderPlaced{OrderID: o.ID, UserID: o.UserID, Items: o.Items, TotalCents: o.TotalCents,
		Currency: o.Currency, ShippingAddress: o.ShippingAddress, PlacedAt: time.Now().UTC()})
	if err != nil {
		return o, fmt.Errorf("encode order.placed: %w", err)
	}
	ev := OutboxEvent{MessageID: msgID.String(), RoutingKey: RoutingKeyOrderPlaced, Payload: payload, Traceparent: telemetry.Traceparent(ctx)}
	// The money is taken and the stock sold: placing the order no longer depends on
	// the client still waiting for the answer.
	placeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), placeTimeout)
	err = s.store.markPlaced(placeCtx, o.ID, charge.ID, ev)
	cancel()
	if err != nil {
		if o, placed, err := s.placeFailed(ctx, o, start, charge.ID, err); !placed {
			return o, err
		}
	}
	if s.placed != nil {
		s.placed()
	}
	o.Status, o.PaymentID = StatusPlaced, charge.ID
	s.m.placed(ctx, o.TotalCents, start)
	span.SetAttributes(attribute.String("shop.checkout.outcome", "placed"))
	s.logger.InfoContext(ctx, "order placed", "order_id", o.ID, "total_cents", o.TotalCents, "items", len(o.Items))
	return o, nil
}

// placeTimeout bounds the last step, which runs whether or not the client still waits.
const placeTimeout = 5 * time.Second

// placeFailed answers a placement that did not say it happened: its commit may have
// gone through with the answer lost, so nothing is undone before the order is
// claimed, for whoever moves an order out of pending owns what follows. Claimed
// here, its refund and release are marked due on it, then made (settleOne); found
// placed after all, it stands, and placed is true; neither (the store is down), it
// stays pending, and the sweeper settles it.
func (s *saga) placeFailed(ctx context.Context, o Order, start time.Time, chargeID string, cause error) (_ Order, placed bool, _ error) {
	ctx = context.WithoutCancel(ctx)
	claimed, err := s.store.claimFailed(ctx, o.ID, reasonStoreDown, chargeID, settleLease)
	if err == nil && !claimed {
		var status string
		if status, err = s.store.orderStatus(ctx, o.ID); err == nil && status == StatusPlaced {
			s.logger.WarnContext(ctx, "the order's placement answered an error but went through", "order_id", o.ID, "error", cause)
			return o, true, nil
		}
	}
	f := failure{reason: reasonStoreDown, chargeID: chargeID, err: fmt.Errorf("place order: %w", cause)}
	if err != nil || !claimed {
		s.logger.ErrorContext(ctx, "could not record the failed placement; the sweeper settles the order", "order_id", o.ID, "error", err)
		return s.failed(ctx, o, start, f), false, f.err
	}
	s.settleOne(ctx, settlement{orderID: o.ID, reason: reasonStoreDown, refundDue: true, releaseDue: true})
	return s.failed(ctx, o, start, f), false, f.err
}

func step(ctx context.Context, name string) {
	trace.SpanFromContext(ctx).AddEvent("checkout step", trace.WithAttributes(attribute.String("shop.checkout.step", name)))
}

// fail records why the order failed, and whether a refund is still due, and answers
// with f.err. The order row keeps the reason even when the answer is lost.
func (s *saga) fail(ctx context.Context, o Order, start time.Time, f failure) (Order, error) {
	ctx = context.WithoutCancel(ctx) // compensation must finish even if the client left
	if _, err := s.store.markFailed(ctx, o.ID, f.reason, f.chargeID, f.refundDue); err != nil {
		s.logger.ErrorContext(ctx, "could not record the failed order; the pending sweeper will", "order_id", o.ID, "error", err)
	}
	return s.failed(ctx, o, start, f), f.err
}

// failed counts, traces and logs a checkout that failed, as recorded on its order.
func (s *saga) failed(ctx context.Context, o Order, start time.Time, f failure) Order {
	s.m.failed(ctx, f.reason, start)
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("shop.checkout.outcome", "failed"),
		attribute.String("shop.checkout.failure_reason", f.reason))
	s.logger.WarnContext(ctx, "checkout failed", "order_id", o.ID, "reason", f.reason)
	o.Status, o.FailureReason = StatusFailed, f.reason
	return o
}

// releaseStock and refund are compensations: each in a span of its own, retried by
// their clients, and logged when they still fail, in which case the sweeper (and, for
// a hold, reservation expiry) is the backstop: a release inventory did not confirm
// marks the order release_due, as a refund payments did not confirm marks it
// refund_due.
func (s *saga) releaseStock(ctx context.Context, orderID, reason string) error {
	ctx, span := s.tracer.Start(context.WithoutCancel(ctx), "compensate release stock",
		trace.WithAttributes(attribute.String("shop.checkout.failure_reason", reason)))
	defer span.End()
	err := s.inventory.Release(ctx, orderID, reason)
	if errors.Is(err, inventory.ErrSold) {
		// Committed, but the order was never placed (this saga failed after the
		// commit, or died and is being swept): the sale did not happen.
		err = s.inventory.Restock(ctx, orderID, reason)
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "release failed")
		s.logger.ErrorContext(ctx, "could not release stock; the sweeper retries", "order_id", orderID, "error", err)
		if merr := s.store.markReleaseDue(ctx, orderID); merr != nil {
			s.logger.ErrorContext(ctx, "could not mark the release due; a hold still expires", "order_id", orderID, "error", merr)
		}
	}
	return err
}

// refund returns an error when payments did not confirm the refund; the caller then
// marks the order refund_due and the sweeper tries again (settleDue).
func (s *saga) refund(ctx context.Context, chargeID string) error {
	ctx, span := s.tracer.Start(context.WithoutCancel(ctx), "compensate refund")
	defer span.End()
	if _, err := s.payments.Refund(ctx, chargeID); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "refund failed")
		s.logger.ErrorContext(ctx, "could not refund charge; the sweeper retries", "charge_id", chargeID, "error", err)
		return err
	}
	return nil
}

// refundByKey refunds the charge made with key, if there is one and it stands. It
// returns nil once payments has answered that nothing stands under that key, for
// good: it voids the key (payments.Client.Void), so that a charge request still in
// flight with it, which this checkout gave up waiting for, cannot land afterwards.
// A mere look-up's "no charge" would be true only until then.
func (s *saga) refundByKey(ctx context.Context, key string) error {
	ctx = context.WithoutCancel(ctx)
	c, err := s.payments.Void(ctx, key)
	switch {
	case err != nil:
		s.logger.ErrorContext(ctx, "could not learn whether a charge happened; the sweeper retries", "payment_key", key, "error", err)
		return err
	case c.Status == payments.ChargeSucceeded && !c.Refunded:
		return s.refund(ctx, c.ID)
	}
	return nil
}

// checkoutMetrics are the checkout's business metrics.
type checkoutMetrics struct {
	placedCount metric.Int64Counter
	failures    metric.Int64Counter
	revenue     metric.Int64Counter
	duration    metric.Float64Histogram
	outcome     map[string]metric.RecordOption
	// refundsDue is how many failed orders still wait for their refund after the
	// sweeper's last pass: above zero for long, payments is refusing refunds.
	refundsDue metric.Int64Gauge
}

func newCheckoutMetrics(meter metric.Meter) checkoutMetrics {
	var m checkoutMetrics
	m.placedCount, _ = meter.Int64Counter("shop.orders.placed", metric.WithDescription("Orders placed."))
	m.failures, _ = meter.Int64Counter("shop.orders.failed", metric.WithDescription("Checkouts that failed, by reason."))
	m.revenue, _ = meter.Int64Counter("shop.orders.revenue", metric.WithUnit("{USD_cent}"),
		metric.WithDescription("Value of placed orders, in US cents."))
	m.duration, _ = meter.Float64Histogram("shop.checkout.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of checkouts, by outcome."))
	m.refundsDue, _ = meter.Int64Gauge("shop.orders.refunds_due", metric.WithUnit("{order}"),
		metric.WithDescription("Failed orders whose refund payments has not yet confirmed, after the last retry."))
	m.outcome = map[string]metric.RecordOption{}
	for _, o := range []string{"placed", "failed"} {
		m.outcome[o] = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", o)))
	}
	return m
}

func (m checkoutMetrics) placed(ctx context.Context, totalCents int64, start time.Time) {
	m.placedCount.Add(ctx, 1)
	m.revenue.Add(ctx, totalCents)
	m.duration.Record(ctx, time.Since(start).Seconds(), m.outcome["placed"])
}

func (m checkoutMetrics) failed(ctx context.Context, reason string, start time.Time) {
	m.failures.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
	m.duration.Record(ctx, time.Since(start).Seconds(), m.outcome["failed"])
}
