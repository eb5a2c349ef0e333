package payments_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/shoptest"
	"github.com/otelshop/shop/services/payments"
)

// A retried charge never charges twice; a key reused for another amount is refused.
func TestCharge_IdempotencyKey(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	api := s.API(t, "payments", "orders")
	ctx := context.Background()
	charge := func(amount int64) (payments.Charge, error) {
		var c payments.Charge
		err := api.Do(ctx, "POST", "/v1/charges", "/v1/charges", nil, map[string]any{
			"idempotency_key": "test-key-0001", "amount_cents": amount, "currency": "USD",
			"card": map[string]string{"number": payments.CardSucceeds, "expiry": "12/39", "cvc": "123"},
		}, &c)
		return c, err
	}
	first, err := charge(4200)
	if err != nil {
		t.Fatal(err)
	}
	again, err := charge(4200)
	if err != nil {
		t.Fatal(err)
	}
	if first.ID != again.ID || first.Status != "succeeded" {
		t.Errorf("retried charge: %+v then %+v; want the same succeeded charge", first, again)
	}
	_, err = charge(9999)
	var e *httpx.Error
	if !errors.As(err, &e) || e.Status != http.StatusConflict || e.Code != "idempotency_key_reused" {
		t.Errorf("key reused for another amount: %v, want 409 idempotency_key_reused", err)
	}
	var n int
	if err := s.Connect(t, "payments").QueryRow(ctx, `SELECT count(*) FROM charges`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d charges stored (%v), want 1", n, err)
	}
	// A refund is idempotent too.
	var r1, r2 payments.Refund
	if err := api.Do(ctx, "POST", "/v1/charges/{id}/refund", "/v1/charges/"+first.ID+"/refund", nil, nil, &r1); err != nil {
		t.Fatal(err)
	}
	if err := api.Do(ctx, "POST", "/v1/charges/{id}/refund", "/v1/charges/"+first.ID+"/refund", nil, nil, &r2); err != nil {
		t.Fatal(err)
	}
	if r1.ID != r2.ID || r1.AmountCents != 4200 {
		t.Errorf("refunds %+v and %+v; want one refund of 4200", r1, r2)
	}
}

// When the processor fails, checkouts fail cleanly (503, stock kept, nothing charged),
// and the orders service's breaker opens so later checkouts fail fast.
func TestCheckout_ProcessorDown_BreakerOpensStockKept(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	ctx := context.Background()
	api := s.API(t, "payments", auth.AdminClient)
	if err := api.Do(ctx, "PUT", "/v1/provider", "/v1/provider", nil, payments.ProviderSettings{ErrorRate: 1}, nil); err != nil {
		t.Fatal(err)
	}
	product := s.NewProduct(t, 700, 50)
	for i := range 8 {
		c := s.NewShopper(t)
		c.AddToCart(product, 1)
		r := c.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), nil)
		if r.Status != http.StatusServiceUnavailable || r.Error.Code != "unavailable" {
			t.Errorf("checkout %d with the processor down: %d %s; want 503 unavailable", i, r.Status, r.Body)
		}
	}
	if n := s.Stock(t, product); n != 50 {
		t.Errorf("stock %d after failed checkouts, want 50", n)
	}
	opened := false
	for _, set := range s.MetricAttributeSets(t, "orders", "shop.circuit_breaker.transitions") {
		b, _ := set.Value("breaker")
		st, _ := set.Value("state")
		opened = opened || (b.AsString() == "payments" && st.AsString() == "open")
	}
	if !opened {
		t.Error("the payments breaker never opened")
	}
}
