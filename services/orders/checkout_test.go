package orders_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelshop/shop/internal/shoptest"
	"github.com/otelshop/shop/services/inventory"
	"github.com/otelshop/shop/services/payments"
)

// Invariant 1: with 10 in stock, 50 shoppers checking out at once get exactly 10 orders,
// and stock ends at 0, never below.
func TestCheckout_ConcurrentDemandBeyondStock_SellsExactlyTheStock(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	product := s.NewProduct(t, 1500, 10)
	const shoppers = 50
	clients := make([]*shoptest.Client, shoppers)
	for i := range clients {
		clients[i] = s.NewShopper(t)
		clients[i].AddToCart(product, 1)
	}

	statuses := make(chan shoptest.Response, shoppers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, c := range clients {
		wg.Go(func() {
			<-start
			statuses <- c.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), nil)
		})
	}
	close(start)
	wg.Wait()
	close(statuses)

	placed, outOfStock := 0, 0
	for r := range statuses {
		switch {
		case r.Status == http.StatusCreated:
			placed++
		case r.Status == http.StatusConflict && r.Error.Code == "out_of_stock":
			outOfStock++
		default:
			t.Errorf("unexpected answer %d %s", r.Status, r.Body)
		}
	}
	if placed != 10 || outOfStock != shoppers-10 {
		t.Errorf("placed %d and refused %d; want 10 and %d", placed, outOfStock, shoppers-10)
	}
	if n := s.Stock(t, product); n != 0 {
		t.Errorf("stock ends at %d, want 0", n)
	}
	var dbPlaced int
	queryOrders(t, s, `SELECT count(*) FROM orders o JOIN order_items i ON i.order_id = o.id
		WHERE i.product_id = $1 AND o.status = 'placed'`, product).Scan(&dbPlaced)
	if dbPlaced != 10 {
		t.Errorf("%d placed orders stored, want 10", dbPlaced)
	}
}

// Invariant 2: a declined payment leaves stock as it was and no order placed.
func TestCheckout_PaymentDeclined_ReleasesStock(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	product := s.NewProduct(t, 2500, 7)
	c := s.NewShopper(t)
	c.AddToCart(product, 3)

	r := c.Do("POST", "/api/checkout", shoptest.CheckoutBody("4000000000000002"), nil)
	if r.Status != http.StatusPaymentRequired || r.Error.Code != "payment_declined" {
		t.Fatalf("checkout with a declined card: %d %s; want 402 payment_declined", r.Status, r.Body)
	}
	if n := s.Stock(t, product); n != 7 {
		t.Errorf("stock is %d after the declined checkout, want 7", n)
	}
	var orders struct {
		Orders []struct {
			Status        string `json:"status"`
			FailureReason string `json:"failure_reason"`
		} `json:"orders"`
	}
	c.Do("GET", "/api/orders", nil, nil).Decode(t, &orders)
	if len(orders.Orders) != 1 || orders.Orders[0].Status != "failed" || orders.Orders[0].FailureReason != "payment_declined" {
		t.Errorf("orders after a declined checkout: %+v; want one failed with payment_declined", orders.Orders)
	}
	// The cart is kept, so the shopper can retry with another card.
	r = c.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("retry with a good card: %d %s", r.Status, r.Body)
	}
	if n := s.Stock(t, product); n != 4 {
		t.Errorf("stock is %d after the successful retry, want 4", n)
	}
}

// A retried checkout with the same Idempotency-Key places one order and charges once.
func TestCheckout_SameIdempotencyKey_PlacesOneOrder(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	product := s.NewProduct(t, 1000, 5)
	c := s.NewShopper(t)
	c.AddToCart(product, 1)
	key := http.Header{"Idempotency-Key": {"checkout-attempt-0001"}}
	first := c.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), key)
	second := c.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), key)
	if first.Status != http.StatusCreated || second.Status != http.StatusCreated {
		t.Fatalf("checkouts: %d %s / %d %s", first.Status, first.Body, second.Status, second.Body)
	}
	var a, b struct{ ID string }
	first.Decode(t, &a)
	second.Decode(t, &b)
	if a.ID != b.ID {
		t.Errorf("two orders %s and %s for one idempotency key", a.ID, b.ID)
	}
	if n := s.Stock(t, product); n != 4 {
		t.Errorf("stock is %d, want 4: one unit sold once", n)
	}
}

// An empty cart cannot be checked out.
func TestCheckout_EmptyCart_Conflict(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	c := s.NewShopper(t)
	r := c.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), nil)
	if r.Status != http.StatusConflict || r.Error.Code != "empty_cart" {
		t.Errorf("checkout of an empty cart: %d %s; want 409 empty_cart", r.Status, r.Body)
	}
}

func queryOrders(t *testing.T, s *shoptest.Shop, sql string, args ...any) pgx.Row {
	t.Helper()
	conn := s.Connect(t, "orders")
	return conn.QueryRow(t.Context(), sql, args...)
}

// abandonCheckout leaves what a checkout does before its process dies between the
// charge and the commit: a pending order, a hold on 2 of product, and a charge made
// with the order's payment key.
func abandonCheckout(t *testing.T, s *shoptest.Shop, product, orderID string) {
	t.Helper()
	if _, err := s.Connect(t, "orders").Exec(t.Context(), `INSERT INTO orders (id, user_id, status, total_cents, currency, shipping_address)
		VALUES ($1, '0199a0b0-2222-7000-8000-000000000001', 'pending', 1600, 'USD', '{}')`, orderID); err != nil {
		t.Fatal(err)
	}
	if err := s.Inventory(t).Reserve(t.Context(), orderID, []inventory.Item{{ProductID: product, Quantity: 2}}); err != nil {
		t.Fatal(err)
	}
	c, err := s.Payments(t).Charge(t.Context(), "order-"+orderID, 1600, payments.Card{Number: "4242424242424242", Expiry: "12/39", CVC: "123"})
	if err != nil || c.Status != "succeeded" {
		t.Fatalf("charge: %v %+v", err, c)
	}
}

// chargeRefunded says whether the charge made for orderID is refunded.
func chargeRefunded(t *testing.T, s *shoptest.Shop, orderID string) (bool, error) {
	c, err := s.Payments(t).ChargeByKey(t.Context(), "order-"+orderID)
	return c.Refunded, err
}

// orderState reads an order's status, failure reason and refund_due mark.
func orderState(t *testing.T, s *shoptest.Shop, orderID string) (status, reason string, refundDue bool, err error) {
	err = queryOrders(t, s, `SELECT status, failure_reason, refund_due FROM orders WHERE id = $1`, orderID).
		Scan(&status, &reason, &refundDue)
	return status, reason, refundDue, err
}

// refundsDueGauge reads the last value orders recorded for shop.orders.refunds_due.
func refundsDueGauge(t *testing.T, s *shoptest.Shop) (int64, bool) {
	for _, sm := range s.Metrics(t, "orders").ScopeMetrics {
		for _, m := range sm.Metrics {
			if g, ok := m.Data.(metricdata.Gauge[int64]); ok && m.Name == "shop.orders.refunds_due" && len(g.DataPoints) == 1 {
				return g.DataPoints[0].Value, true
			}
		}
	}
	return 0, false
}

// A checkout whose orders process died after charging (the order stays pending) is
// found by the sweeper: the charge is refunded, the stock released, the order failed.
func TestCheckout_AbandonedMidSaga_SweptRefundedReleased(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{Env: map[string]string{"PENDING_ORDER_TIMEOUT": "1s", "RESERVATION_TTL": "1h"}})
	product := s.NewProduct(t, 800, 5)
	orderID := "0199a0b0-1111-7000-8000-00000000abcd"
	abandonCheckout(t, s, product, orderID)

	shoptest.Eventually(t, 15*time.Second, func() error {
		status, reason, refundDue, err := orderState(t, s, orderID)
		if err != nil {
			return err
		}
		if status != "failed" || reason != "abandoned" || refundDue {
			return fmt.Errorf("order is %s (%s), refund due %v", status, reason, refundDue)
		}
		if n := s.Stock(t, product); n != 5 {
			return fmt.Errorf("stock %d after the sweep, want 5", n)
		}
		if refunded, err := chargeRefunded(t, s, orderID); err != nil || !refunded {
			return fmt.Errorf("charge refunded: %v (%v)", refunded, err)
		}
		return nil
	})
}

// Money is not lost when payments cannot be reached to give it back: the order is
// marked refund_due, and the refund is retried until payments confirms it, both for
// an abandoned checkout's charge and for a checkout whose charge got no answer.
func TestCheckout_PaymentsUnreachable_RefundRetriedUntilConfirmed(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{PaymentsProxy: true,
		Env: map[string]string{"PENDING_ORDER_TIMEOUT": "1s", "RESERVATION_TTL": "1h"}})
	product := s.NewProduct(t, 800, 10)
	abandoned := "0199a0b0-1111-7000-8000-00000000beef"
	abandonCheckout(t, s, product, abandoned)
	s.PaymentsProxy.Cut()

	// A checkout while payments is unreachable: nothing is known about its charge.
	c := s.NewShopper(t)
	c.AddToCart(product, 1)
	r := c.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), nil)
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("checkout with payments unreachable: %d %s, want 503", r.Status, r.Body)
	}
	var unanswered string
	if err := queryOrders(t, s, `SELECT id FROM orders WHERE id <> $1`, abandoned).Scan(&unanswered); err != nil {
		t.Fatal(err)
	}

	for _, id := range []string{abandoned, unanswered} {
		shoptest.Eventually(t, 15*time.Second, func() error {
			status, reason, refundDue, err := orderState(t, s, id)
			if err != nil {
				return err
			}
			if status != "failed" || !refundDue {
				return fmt.Errorf("order %s is %s (%s), refund due %v; want failed with a refund due", id, status, reason, refundDue)
			}
			return nil
		})
	}
	if refunded, err := chargeRefunded(t, s, abandoned); err != nil || refunded {
		t.Fatalf("the abandoned order's charge refunded = %v (%v) while payments was unreachable", refunded, err)
	}
	shoptest.Eventually(t, 10*time.Second, func() error {
		if n, ok := refundsDueGauge(t, s); !ok || n != 2 {
			return fmt.Errorf("shop.orders.refunds_due = %d (recorded %v), want 2", n, ok)
		}
		return nil
	})

	s.PaymentsProxy.Restore()
	for _, id := range []string{abandoned, unanswered} {
		shoptest.Eventually(t, 30*time.Second, func() error {
			if _, _, refundDue, err := orderState(t, s, id); err != nil || refundDue {
				return fmt.Errorf("order %s: refund still due %v (%v)", id, refundDue, err)
			}
			return nil
		})
	}
	if refunded, err := chargeRefunded(t, s, abandoned); err != nil || !refunded {
		t.Errorf("the abandoned order's charge refunded = %v (%v) after payments came back", refunded, err)
	}
	shoptest.Eventually(t, 10*time.Second, func() error {
		if n, ok := refundsDueGauge(t, s); !ok || n != 0 {
			return fmt.Errorf("shop.orders.refunds_due = %d (recorded %v) after the refunds, want 0", n, ok)
		}
		return nil
	})
	// The unanswered checkout never reached payments, so it has no charge to refund:
	// its key is voided, so that none can be made with it any more.
	none, err := s.Payments(t).ChargeByKey(t.Context(), "order-"+unanswered)
	if err != nil || none.Status != payments.ChargeVoided {
		t.Errorf("charge of the unanswered checkout: %+v (%v), want its key voided", none, err)
	}
}
