package gateway_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/otelshop/shop/internal/shoptest"
)

// The scripted walk of the issue: register, login, browse, add to cart, checkout, see
// the order, see the shipment — all through the gateway.
func TestWalk_RegisterToShipment(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	anon := s.Anonymous(t)

	var page struct {
		Products []struct {
			ID         string `json:"id"`
			Category   string `json:"category"`
			PriceCents int64  `json:"price_cents"`
		} `json:"products"`
		Total int `json:"total"`
	}
	anon.Do("GET", "/api/products?page=2&page_size=10", nil, nil).Decode(t, &page)
	if len(page.Products) != 10 || page.Total < 100 {
		t.Fatalf("page 2 of the catalogue: %d products of %d; want 10 of at least 100", len(page.Products), page.Total)
	}
	anon.Do("GET", "/api/products?category=kitchen&page_size=100", nil, nil).Decode(t, &page)
	if len(page.Products) == 0 {
		t.Fatal("category kitchen: no products; the filter cannot be checked")
	}
	for _, p := range page.Products {
		if p.Category != "kitchen" {
			t.Errorf("category filter let through %s (%s)", p.ID, p.Category)
		}
	}
	anon.Do("GET", "/api/products?q=headphones", nil, nil).Decode(t, &page)
	if len(page.Products) == 0 {
		t.Fatal("search for headphones found nothing")
	}
	product := page.Products[0]
	if r := anon.Do("GET", "/api/products/"+product.ID, nil, nil); r.Status != http.StatusOK {
		t.Fatalf("product detail: %d %s", r.Status, r.Body)
	}

	c := s.NewShopper(t)
	var me struct{ Email string }
	c.Do("GET", "/api/users/me", nil, nil).Decode(t, &me)
	if me.Email != c.Email {
		t.Errorf("me is %q, want %q", me.Email, c.Email)
	}
	c.AddToCart(product.ID, 2)
	c.AddToCart("SKU-00001", 1)
	if r := c.Do("PUT", "/api/cart/items/SKU-00001", map[string]int{"quantity": 3}, nil); r.Status != http.StatusOK {
		t.Fatalf("change quantity: %d %s", r.Status, r.Body)
	}
	var cart struct {
		Items []struct {
			ProductID string `json:"product_id"`
			Quantity  int    `json:"quantity"`
		} `json:"items"`
	}
	c.Do("GET", "/api/cart", nil, nil).Decode(t, &cart)
	if len(cart.Items) != 2 {
		t.Fatalf("cart: %+v", cart.Items)
	}

	r := c.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("checkout: %d %s", r.Status, r.Body)
	}
	var order struct {
		ID         string `json:"id"`
		Status     string `json:"status"`
		TotalCents int64  `json:"total_cents"`
	}
	r.Decode(t, &order)
	if order.Status != "placed" || order.TotalCents <= 0 {
		t.Errorf("order: %+v", order)
	}
	c.Do("GET", "/api/cart", nil, nil).Decode(t, &cart)
	if len(cart.Items) != 0 {
		t.Errorf("cart after checkout holds %+v, want nothing", cart.Items)
	}
	if r := c.Do("GET", "/api/orders/"+order.ID, nil, nil); r.Status != http.StatusOK {
		t.Errorf("order detail: %d %s", r.Status, r.Body)
	}
	shoptest.Eventually(t, 10*time.Second, func() error {
		r := c.Do("GET", "/api/orders/"+order.ID+"/shipment", nil, nil)
		if r.Status != http.StatusOK {
			return fmt.Errorf("shipment: %d %s", r.Status, r.Body)
		}
		return nil
	})
}

// Every bad request gets a 4xx with the JSON error body, never a 500.
func TestBadInput_ClearErrors(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{Env: map[string]string{"TOKEN_TTL": "1h"}})
	owner := s.NewShopper(t)
	owner.AddToCart("SKU-00002", 1)
	var order struct{ ID string }
	owner.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), nil).Decode(t, &order)
	c := s.NewShopper(t)
	anon := s.Anonymous(t)
	var me struct{ ID string }
	c0 := s.NewShopper(t)
	c0.Do("GET", "/api/users/me", nil, nil).Decode(t, &me)
	expired := s.ExpiredUserToken(t, me.ID)
	huge := append(append([]byte(`{"product_id":"SKU-00001","quantity":1,"pad":"`), bytes.Repeat([]byte("x"), 1<<20+10)...), '"', '}')

	tests := []struct {
		name   string
		client *shoptest.Client
		method string
		path   string
		body   any
		header http.Header
		status int
		code   string
		field  string
	}{
		{"malformed json", c, "POST", "/api/cart/items", []byte(`{"product_id":`), nil, 400, "malformed_json", ""},
		{"not an object", c, "POST", "/api/cart/items", []byte(`[1,2]`), nil, 400, "malformed_json", ""},
		{"two objects", c, "POST", "/api/cart/items", []byte(`{"product_id":"SKU-00001","quantity":1}{}`), nil, 400, "malformed_json", ""},
		{"empty body", c, "POST", "/api/cart/items", nil, nil, 400, "empty_body", ""},
		{"unknown field", c, "POST", "/api/cart/items", []byte(`{"product_id":"SKU-00001","quantity":1,"discount":99}`), nil, 400, "invalid_field", "discount"},
		{"wrong type", c, "POST", "/api/cart/items", []byte(`{"product_id":"SKU-00001","quantity":"two"}`), nil, 400, "invalid_field", "quantity"},
		{"zero quantity", c, "POST", "/api/cart/items", map[string]any{"product_id": "SKU-00001", "quantity": 0}, nil, 400, "invalid_field", "quantity"},
		{"negative quantity", c, "POST", "/api/cart/items", map[string]any{"product_id": "SKU-00001", "quantity": -3}, nil, 400, "invalid_field", "quantity"},
		{"huge quantity", c, "POST", "/api/cart/items", map[string]any{"product_id": "SKU-00001", "quantity": 1 << 40}, nil, 400, "invalid_field", "quantity"},
		{"unknown product", c, "POST", "/api/cart/items", map[string]any{"product_id": "SKU-99999", "quantity": 1}, nil, 400, "invalid_field", "product_id"},
		{"invalid product id", c, "POST", "/api/cart/items", map[string]any{"product_id": "../../etc", "quantity": 1}, nil, 400, "invalid_field", "product_id"},
		{"body over 1 MiB", c, "POST", "/api/cart/items", huge, nil, 413, "body_too_large", ""},
		{"no token", anon, "GET", "/api/cart", nil, nil, 401, "unauthorized", ""},
		{"garbage token", anon, "GET", "/api/orders", nil, http.Header{"Authorization": {"Bearer not.a.jwt"}}, 401, "unauthorized", ""},
		{"expired token", anon, "GET", "/api/orders", nil, http.Header{"Authorization": {"Bearer " + expired}}, 401, "token_expired", ""},
		{"forged identity header", anon, "GET", "/api/cart", nil, http.Header{"X-Shop-User-Id": {"0199a0b0-0000-7000-8000-000000000001"}}, 401, "unauthorized", ""},
		{"another user's order", c, "GET", "/api/orders/" + order.ID, nil, nil, 404, "not_found", ""},
		{"another user's shipment", c, "GET", "/api/orders/" + order.ID + "/shipment", nil, nil, 404, "not_found", ""},
		{"invalid order id", c, "GET", "/api/orders/12345", nil, nil, 400, "invalid_field", "id"},
		{"unknown product detail", anon, "GET", "/api/products/SKU-99999", nil, nil, 404, "not_found", ""},
		{"bad page", anon, "GET", "/api/products?page=0", nil, nil, 400, "invalid_field", "page"},
		{"page size too big", anon, "GET", "/api/products?page_size=1000", nil, nil, 400, "invalid_field", "page_size"},
		{"bad category", anon, "GET", "/api/products?category=DROP%20TABLE", nil, nil, 400, "invalid_field", "category"},
		{"unknown route", anon, "GET", "/api/nothing-here", nil, nil, 404, "not_found", ""},
		{"register bad email", anon, "POST", "/api/users/register", map[string]string{"email": "not-an-email", "password": "longenough", "name": "A"}, nil, 400, "invalid_field", "email"},
		{"register short password", anon, "POST", "/api/users/register", map[string]string{"email": "a@example.com", "password": "short", "name": "A"}, nil, 400, "invalid_field", "password"},
		{"register taken email", anon, "POST", "/api/users/register", map[string]string{"email": c.Email, "password": "longenough", "name": "A"}, nil, 409, "email_taken", ""},
		{"login wrong password", anon, "POST", "/api/users/login", map[string]string{"email": c.Email, "password": "wrong-password"}, nil, 401, "unauthorized", ""},
		{"login unknown user", anon, "POST", "/api/users/login", map[string]string{"email": "nobody@example.com", "password": "whatever1"}, nil, 401, "unauthorized", ""},
		{"checkout bad card", c, "POST", "/api/checkout", map[string]any{"payment": map[string]string{"card_number": "4242424242424241", "expiry": "12/39", "cvc": "123"}, "shipping_address": shoptest.CheckoutBody("")["shipping_address"]}, nil, 400, "invalid_field", "payment.card_number"},
		{"checkout expired card", c, "POST", "/api/checkout", map[string]any{"payment": map[string]string{"card_number": "4242424242424242", "expiry": "01/20", "cvc": "123"}, "shipping_address": shoptest.CheckoutBody("")["shipping_address"]}, nil, 400, "invalid_field", "payment.expiry"},
		{"checkout bad country", c, "POST", "/api/checkout", map[string]any{"payment": shoptest.CheckoutBody("")["payment"], "shipping_address": map[string]string{"name": "A", "line1": "B", "city": "C", "postal_code": "D", "country": "Germany"}}, nil, 400, "invalid_field", "shipping_address.country"},
		{"checkout bad idempotency key", c, "POST", "/api/checkout", shoptest.CheckoutBody(""), http.Header{"Idempotency-Key": {"short"}}, 400, "invalid_field", "Idempotency-Key"},
		{"change item not in cart", c, "PUT", "/api/cart/items/SKU-00009", map[string]int{"quantity": 1}, nil, 404, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.client.Do(tt.method, tt.path, tt.body, tt.header)
			if r.Status != tt.status || r.Error.Code != tt.code || r.Error.Field != tt.field {
				t.Errorf("%s %s: %d %s; want %d code=%s field=%s", tt.method, tt.path, r.Status, truncate(r.Body), tt.status, tt.code, tt.field)
			}
			if r.Error.Message == "" {
				t.Errorf("no error message in %s", truncate(r.Body))
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("content type %q", ct)
			}
		})
	}
}

// The gateway's token bucket answers 429 with Retry-After once a client's burst is spent.
func TestRateLimit_PerClient(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{Env: map[string]string{"RATE_LIMIT_RPS": "1", "RATE_LIMIT_BURST": "5"}})
	a, b := s.Anonymous(t), s.NewShopper(t)
	limited := 0
	for range 10 {
		r := a.Do("GET", "/api/categories", nil, nil)
		if r.Status == http.StatusTooManyRequests {
			limited++
			if r.Header.Get("Retry-After") == "" || r.Error.Code != "rate_limited" {
				t.Errorf("429 without Retry-After or code: %v %s", r.Header, r.Body)
			}
		}
	}
	if limited < 4 {
		t.Errorf("%d of 10 requests beyond a burst of 5 were limited, want at least 4", limited)
	}
	// Another client has its own bucket (b's register/login were spent from the anonymous
	// bucket of 127.0.0.1 before, so b is identified by its token now).
	if r := b.Do("GET", "/api/cart", nil, nil); r.Status != http.StatusOK {
		t.Errorf("another client: %d %s", r.Status, r.Body)
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
