package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/resilience"
	"github.com/otelshop/shop/services/inventory"
	"github.com/otelshop/shop/services/payments"
	"github.com/otelshop/shop/telemetry"
)

// RoutingKeyOrderPlaced is the routing key of the event announcing a placed order.
const RoutingKeyOrderPlaced = "order.placed"

// OrderPlaced is the event's body.
type OrderPlaced struct {
	OrderID         string    `json:"order_id"`
	UserID          string    `json:"user_id"`
	Items           []Item    `json:"items"`
	TotalCents      int64     `json:"total_cents"`
	Currency        string    `json:"currency"`
	ShippingAddress Address   `json:"shipping_address"`
	PlacedAt        time.Time `json:"placed_at"`
}

// Failure reasons recorded on failed orders and counted in shop.orders.failed.
const (
	reasonEmptyCart          = "empty_cart"
	reasonUnknownProduct     = "unknown_product"
	reasonOutOfStock         = "out_of_stock"
	reasonInventoryDown      = "inventory_unavailable"
	reasonPaymentDeclined    = "payment_declined"
	reasonPaymentDown        = "payment_unavailable"
	reasonReservationExpired = "reservation_expired"
	reasonStoreDown          = "order_store_unavailable"
	reasonAbandoned          = "abandoned"
)

type checkoutRequest struct {
	Payment         paymentDetails `json:"payment"`
	ShippingAddress Address        `json:"shipping_address"`
}

type paymentDetails struct {
	CardNumber string `json:"card_number"`
	Expiry     string `json:"expiry"`
	CVC        string `json:"cvc"`
}

var countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)

func (r *checkoutRequest) Validate() error {
	r.Payment.CardNumber = strings.ReplaceAll(r.Payment.CardNumber, " ", "")
	if err := payments.ValidateCard(r.card(), time.Now()); err != nil {
		var e *httpx.Error
		if errors.As(err, &e) {
			// The field names of this API, not of the payments API.
			e.Field = map[string]string{"card.number": "payment.card_number", "card.expiry": "payment.expiry", "card.cvc": "payment.cvc"}[e.Field]
		}
		return err
	}
	a := &r.ShippingAddress
	for _, f := range []struct {
		name, value string
		required    bool
	}{
		{"shipping_address.name", a.Name, true},
		{"shipping_address.line1", a.Line1, true},
		{"shipping_address.line2", a.Line2, false},
		{"shipping_address.city", a.City, true},
		{"shipping_address.postal_code", a.PostalCode, true},
	} {
		n := utf8.RuneCountInString(strings.TrimSpace(f.value))
		if (f.required && n == 0) || n > 200 {
			return httpx.Invalid(f.name, "must be 1 to 200 characters")
		}
	}
	if !countryPattern.MatchString(a.Country) {
		return httpx.Invalid("shipping_address.country", "must be an ISO 3166-1 alpha-2 code such as DE")
	}
	return nil
}

func (r *checkoutRequest) card() payments.Card {
	return payments.Card{Number: r.Payment.CardNumber, Expiry: r.Payment.Expiry, CVC: r.Payment.CVC}
}

var idempotencyKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{8,100}$`)

// checkout runs the saga: price the cart, store the order as pending, reserve stock,
// charge the card, commit the stock, then mark the order placed and write its event
// in one transaction. Each failure undoes what came before it (release the stock,
// refund the charge) and records why on the order.
func (s *server) checkout(ctx context.Context, userID, idempotencyKey string, req checkoutRequest) (Order, error) {
	start := time.Now()
	span := trace.SpanFromContext(ctx)
	if idempotencyKey != "" {
		if o, err := s.store.byIdempotencyKey(ctx, userID, idempotencyKey); err == nil {
			span.SetAttributes(attribute.Bool("shop.checkout.replayed", true))
			return o, nil
		} else if !errors.Is(err, errNoOrder) {
			return Order{}, err
		}
	}

	c, err := s.cart.Get(ctx, userID)
	if err != nil {
		return Order{}, fmt.Errorf("read cart: %w", err)
	}
	if len(c.Items) == 0 {
		s.failed(ctx, reasonEmptyCart, start)
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
		ShippingAddress: req.ShippingAddress, IdempotencyKey: idempotencyKey}
	units := 0
	for _, it := range c.Items {
		p, ok := products[it.ProductID]
		if !ok {
			s.failed(ctx, reasonUnknownProduct, start)
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

	if err := s.store.createPending(ctx, &o); errors.Is(err, errDuplicate) {
		// The same checkout, sent twice at once: answer with the first.
		return s.store.byIdempotencyKey(ctx, userID, idempotencyKey)
	} else if err != nil {
		return Order{}, err
	}
	o, err = s.runSaga(ctx, o, req.card(), start)
	if err != nil {
		return o, err
	}
	// The order stands; an uncleared cart is an annoyance, not a failure.
	if err := s.cart.Clear(ctx, userID); err != nil {
		s.tel.Logger.WarnContext(ctx, "order placed but the cart was not cleared", "order_id", o.ID, "error", err)
	}
	return o, nil
}

func (s *server) runSaga(ctx context.Context, o Order, card payments.Card, start time.Time) (Order, error) {
	items := make([]inventory.Item, len(o.Items))
	for i, it := range o.Items {
		items[i] = inventory.Item{ProductID: it.ProductID, Quantity: int32(it.Quantity)}
	}
	step(ctx, "reserve stock")
	if err := s.inventory.Reserve(ctx, o.ID, items); err != nil {
		if errors.Is(err, inventory.ErrInsufficientStock) || errors.Is(err, inventory.ErrUnknownProduct) {
			return s.abort(ctx, o, reasonOutOfStock, "", false, start, httpx.Conflict(reasonOutOfStock, "not enough stock for this order"))
		}
		// The hold may exist even though the answer was lost: release it.
		s.releaseStock(ctx, o.ID, reasonInventoryDown)
		return s.abort(ctx, o, reasonInventoryDown, "", false, start, fmt.Errorf("reserve stock: %w", errors.Join(err, errUnavailable)))
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
		return s.abort(ctx, o, reasonPaymentDown, "", refundDue, start, fmt.Errorf("charge: %w", errors.Join(err, errUnavailable)))
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("shop.payment.status", charge.Status))
	if charge.Status != "succeeded" {
		s.releaseStock(ctx, o.ID, reasonPaymentDeclined)
		trace.SpanFromContext(ctx).SetAttributes(attribute.String("shop.payment.decline_reason", charge.DeclineReason))
		return s.abort(ctx, o, reasonPaymentDeclined, charge.ID, false, start,
			&httpx.Error{Status: http.StatusPaymentRequired, Code: reasonPaymentDeclined, Message: "the payment was declined: " + charge.DeclineReason})
	}

	step(ctx, "commit stock")
	if err := s.inventory.Commit(ctx, o.ID); err != nil {
		refundDue := s.refund(ctx, charge.ID) != nil
		if errors.Is(err, inventory.ErrNotHeld) {
			return s.abort(ctx, o, reasonReservationExpired, charge.ID, refundDue, start,
				httpx.Conflict(reasonReservationExpired, "the stock held for this order was released; try again"))
		}
		s.releaseStock(ctx, o.ID, reasonInventoryDown)
		return s.abort(ctx, o, reasonInventoryDown, charge.ID, refundDue, start, fmt.Errorf("commit stock: %w", errors.Join(err, errUnavailable)))
	}

	step(ctx, "place order")
	msgID, _ := uuid.NewV7()
	payload, err := json.Marshal(OrderPlaced{OrderID: o.ID, UserID: o.UserID, Items: o.Items, TotalCents: o.TotalCents,
		Currency: o.Currency, ShippingAddress: o.ShippingAddress, PlacedAt: time.Now().UTC()})
	if err != nil {
		return o, fmt.Errorf("encode order.placed: %w", err)
	}
	ev := OutboxEvent{MessageID: msgID.String(), RoutingKey: RoutingKeyOrderPlaced, Payload: payload, Traceparent: telemetry.Traceparent(ctx)}
	if err := s.store.markPlaced(ctx, o.ID, charge.ID, ev); err != nil {
		refundDue := s.refund(ctx, charge.ID) != nil
		s.releaseStock(ctx, o.ID, reasonStoreDown)
		return s.abort(ctx, o, reasonStoreDown, charge.ID, refundDue, start, fmt.Errorf("place order: %w", err))
	}
	s.relay.wake()
	o.Status, o.PaymentID = StatusPlaced, charge.ID
	s.placed.Add(ctx, 1)
	s.revenue.Add(ctx, o.TotalCents)
	s.duration.Record(ctx, time.Since(start).Seconds(), s.outcomeAttrs("placed"))
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("shop.checkout.outcome", "placed"))
	s.tel.Logger.InfoContext(ctx, "order placed", "order_id", o.ID, "total_cents", o.TotalCents, "items", len(o.Items))
	return o, nil
}

var errUnavailable = httpx.Unavailable("a service the checkout needs is unavailable; nothing was charged, try again")

func paymentKey(orderID string) string { return "order-" + orderID }

func step(ctx context.Context, name string) {
	trace.SpanFromContext(ctx).AddEvent("checkout step", trace.WithAttributes(attribute.String("shop.checkout.step", name)))
}

// abort records why the order failed, and whether a refund is still due, and answers
// with err. The order row keeps the reason even when the answer is lost.
func (s *server) abort(ctx context.Context, o Order, reason, paymentID string, refundDue bool, start time.Time, err error) (Order, error) {
	ctx = context.WithoutCancel(ctx) // compensation must finish even if the client left
	if _, merr := s.store.markFailed(ctx, o.ID, reason, paymentID, refundDue); merr != nil {
		s.tel.Logger.ErrorContext(ctx, "could not record the failed order; the pending sweeper will", "order_id", o.ID, "error", merr)
	}
	s.failed(ctx, reason, start)
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.String("shop.checkout.outcome", "failed"), attribute.String("shop.checkout.failure_reason", reason))
	s.tel.Logger.WarnContext(ctx, "checkout failed", "order_id", o.ID, "reason", reason)
	o.Status, o.FailureReason = StatusFailed, reason
	return o, err
}

func (s *server) failed(ctx context.Context, reason string, start time.Time) {
	s.failures.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
	s.duration.Record(ctx, time.Since(start).Seconds(), s.outcomeAttrs("failed"))
}

// releaseStock and refund are compensations: each in a span of its own, retried by
// their clients, and logged when they still fail, in which case reservation expiry and
// the pending sweeper are the backstops.
func (s *server) releaseStock(ctx context.Context, orderID, reason string) {
	ctx, span := s.tracer.Start(context.WithoutCancel(ctx), "compensate release stock",
		trace.WithAttributes(attribute.String("shop.checkout.failure_reason", reason)))
	defer span.End()
	if err := s.inventory.Release(ctx, orderID, reason); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "release failed")
		s.tel.Logger.ErrorContext(ctx, "could not release stock; it is released when the hold expires", "order_id", orderID, "error", err)
	}
}

// refund returns an error when payments did not confirm the refund; the caller then
// marks the order refund_due and the sweeper tries again (settleRefunds).
func (s *server) refund(ctx context.Context, chargeID string) error {
	ctx, span := s.tracer.Start(context.WithoutCancel(ctx), "compensate refund")
	defer span.End()
	if _, err := s.payments.Refund(ctx, chargeID); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "refund failed")
		s.tel.Logger.ErrorContext(ctx, "could not refund charge; the sweeper retries", "charge_id", chargeID, "error", err)
		return err
	}
	return nil
}

// refundByKey refunds the charge made with key, if there is one and it stands. It
// returns nil once payments has answered that nothing stands under that key.
func (s *server) refundByKey(ctx context.Context, key string) error {
	ctx = context.WithoutCancel(ctx)
	c, err := s.payments.ChargeByKey(ctx, key)
	var e *httpx.Error
	switch {
	case errors.As(err, &e) && e.Status == http.StatusNotFound:
		return nil // never charged
	case err != nil:
		s.tel.Logger.ErrorContext(ctx, "could not learn whether a charge happened; the sweeper retries", "payment_key", key, "error", err)
		return err
	case c.Status == "succeeded" && !c.Refunded:
		return s.refund(ctx, c.ID)
	}
	return nil
}

// sweepPending finishes checkouts that died midway (the process was killed between
// steps): refund whatever was charged, release the stock, and mark them failed.
func (s *server) sweepPending(ctx context.Context, olderThan time.Duration) (int, error) {
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
		s.failures.Add(sctx, 1, metric.WithAttributes(attribute.String("reason", reasonAbandoned)))
		s.tel.Logger.WarnContext(sctx, "abandoned checkout cleaned up", "order_id", o.ID)
		span.End()
	}
	return len(stale), nil
}

// settleRefunds retries the refunds of failed orders marked refund_due, until
// payments confirms each charge refunded or never made: money taken for an order
// that failed is never simply logged and forgotten.
func (s *server) settleRefunds(ctx context.Context) (int, error) {
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
	s.refundsDue.Record(ctx, owed)
	return settled, nil
}

// settle clears an order's refund_due mark and says whether it did.
func (s *server) settle(ctx context.Context, orderID string) bool {
	if err := s.store.refundSettled(ctx, orderID); err != nil {
		s.tel.Logger.ErrorContext(ctx, "refund confirmed but not recorded; it is checked again", "order_id", orderID, "error", err)
		return false
	}
	return true
}
