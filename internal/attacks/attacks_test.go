// Package attacks_test attacks the real shop, on the real stores, the way the
// review of issue #10 did: every finding is a request or an RPC that must now be
// refused with the right status, next to the honest request that must still work.
package attacks_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/otelshop/shop/internal/shoptest"
)

// forgedUser is a user id an attacker claims for itself.
const forgedUser = "0199a0b0-0000-7000-8000-000000000001"

// direct calls an internal service straight, bypassing the gateway.
func direct(t *testing.T, s *shoptest.Shop, service, method, path string, body any, header http.Header) shoptest.Response {
	t.Helper()
	return s.Direct(t, service).Do(method, path, body, header)
}

// An identity claimed in a header is believed by no service: straight to users,
// cart, orders and shipping, a forged X-Shop-User-Id, or no credential at all, is
// 401, and so is a valid end-user token without the caller's own credential.
func TestInternalServices_BelieveNoClaimedIdentity(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	victim := s.NewShopper(t)
	victim.AddToCart("SKU-00003", 1)
	var order struct{ ID string }
	victim.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), nil).Decode(t, &order)

	forged := http.Header{"X-Shop-User-Id": {forgedUser}}
	userToken := http.Header{"Authorization": {"Bearer " + victim.Token}}
	for _, tt := range []struct{ service, method, path string }{
		{"users", "GET", "/v1/users/me"},
		{"cart", "GET", "/v1/cart"},
		{"cart", "POST", "/v1/cart/items"},
		{"orders", "GET", "/v1/orders"},
		{"orders", "GET", "/v1/orders/" + order.ID},
		{"shipping", "GET", "/v1/shipments?order_id=" + order.ID},
		{"payments", "GET", "/v1/charges?idempotency_key=order-" + order.ID},
		{"catalog", "POST", "/v1/products"},
	} {
		for name, h := range map[string]http.Header{"forged header": forged, "user token": userToken, "nothing": nil} {
			r := direct(t, s, tt.service, tt.method, tt.path, map[string]any{"product_id": "SKU-00001", "quantity": 1}, h)
			if r.Status != http.StatusUnauthorized && r.Status != http.StatusForbidden {
				t.Errorf("%s %s %s with %s: %d %.200s, want 401 or 403", tt.service, tt.method, tt.path, name, r.Status, r.Body)
			}
		}
	}
	// The honest path still works.
	if r := victim.Do("GET", "/api/orders/"+order.ID, nil, nil); r.Status != http.StatusOK {
		t.Errorf("the owner's own order through the gateway: %d %s", r.Status, r.Body)
	}
}

// Payments and catalog writes take no orders from strangers: a refund by hand, a
// provider change and a price change are refused, and the price stays.
func TestMoneyAndPrices_RefuseStrangers(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	c := s.NewShopper(t)
	c.AddToCart("SKU-00004", 1)
	var order struct{ ID string }
	c.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), nil).Decode(t, &order)
	var charge struct{ ID string }
	s.AdminCall(t, "payments", "GET", "/v1/charges?idempotency_key=order-"+order.ID, nil).Decode(t, &charge)

	for _, tt := range []struct {
		service, method, path string
		body                  any
	}{
		{"payments", "POST", "/v1/charges/" + charge.ID + "/refund", nil},
		{"payments", "POST", "/v1/charges/void", map[string]any{"idempotency_key": "order-" + order.ID}},
		{"payments", "PUT", "/v1/provider", map[string]any{"latency_ms": 0, "failure_rate": 1, "error_rate": 1}},
		{"catalog", "PUT", "/v1/products/SKU-00004", map[string]any{"name": "cheap", "category": "kitchen", "price_cents": 1, "image_url": "https://x.example/a.jpg"}},
		{"catalog", "POST", "/v1/products", map[string]any{"id": "EVIL-1", "name": "<script>alert(1)</script>", "category": "kitchen", "price_cents": 1, "image_url": "https://x.example/a.jpg"}},
	} {
		for _, as := range []string{"", "gateway", "cart"} {
			r := s.CallAs(t, as, tt.service, tt.method, tt.path, tt.body)
			if r.Status != http.StatusUnauthorized && r.Status != http.StatusForbidden {
				t.Errorf("%s %s %s as %q: %d %.200s, want 401 or 403", tt.service, tt.method, tt.path, as, r.Status, r.Body)
			}
		}
	}
	var p struct {
		PriceCents int64 `json:"price_cents"`
	}
	s.Anonymous(t).Do("GET", "/api/products/SKU-00004", nil, nil).Decode(t, &p)
	if p.PriceCents <= 1 {
		t.Errorf("the price was changed to %d", p.PriceCents)
	}
	var o struct{ Status string }
	c.Do("GET", "/api/orders/"+order.ID, nil, nil).Decode(t, &o)
	if r := s.AdminCall(t, "payments", "GET", "/v1/charges/"+charge.ID, nil); !strings.Contains(string(r.Body), `"refunded":false`) || o.Status != "placed" {
		t.Errorf("the placed order's charge: %s (order %s)", r.Body, o.Status)
	}
	// An operator may: the admin role changes a price.
	r := s.AdminCall(t, "catalog", "PUT", "/v1/products/SKU-00005", map[string]any{"name": "Renamed", "category": "kitchen", "price_cents": 999, "image_url": "https://x.example/a.jpg"})
	if r.Status != http.StatusOK {
		t.Errorf("an admin changing a product: %d %s", r.Status, r.Body)
	}
}

// Tokens signed with a secret anyone can read, or minted with another algorithm,
// are refused; and the secret itself is gone from the repository.
func TestTokens_OnlyTheIssuersKeysCount(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	public := strings.Join([]string{"development", "only", "secret", "change", "me"}, "-")
	for name, token := range map[string]string{
		"HS256 with the old public secret": hs256(t, public, forgedUser),
		"alg none":                         none(t, forgedUser),
	} {
		r := s.Anonymous(t).Do("GET", "/api/cart", nil, http.Header{"Authorization": {"Bearer " + token}})
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", name, r.Status, r.Body)
		}
	}
	if hits := shoptest.GrepRepository(t, public); len(hits) > 0 {
		t.Errorf("the public secret is still in the repository: %v", hits)
	}
}

func hs256(t *testing.T, secret, subject string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject: subject, Issuer: "shop-users", Audience: jwt.ClaimStrings{"shop"},
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	})
	signed, err := tok.SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func none(t *testing.T, subject string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{
		Subject: subject, Issuer: "shop-users", Audience: jwt.ClaimStrings{"shop"},
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	})
	signed, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// The admin endpoint shows no stacks or profiles unless an operator turned them on.
func TestAdminEndpoint_NoProfilesByDefault(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	for _, path := range []string{"/debug/pprof/goroutine?debug=2", "/debug/pprof/profile?seconds=1", "/debug/pprof/cmdline"} {
		resp, err := http.Get(s.AdminURL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404 with pprof off", path, resp.StatusCode)
		}
	}
	resp, err := http.Get(s.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/metrics: %d", resp.StatusCode)
	}
}

// With pprof turned on, a profile is bounded in time.
func TestAdminEndpoint_ProfileDurationCapped(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{Env: map[string]string{"ADMIN_PPROF": "true"}})
	resp, err := http.Get(s.AdminURL + "/debug/pprof/profile?seconds=120")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a 120 s CPU profile: %d, want 400 (capped at 30 s)", resp.StatusCode)
	}
}

// A NUL byte or invalid UTF-8 in any text field is refused with 400 and the
// field's name, before any store sees it.
func TestText_NULAndInvalidUTF8Refused(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	anon := s.Anonymous(t)
	c := s.NewShopper(t)
	c.AddToCart("SKU-00006", 1)
	withNUL := shoptest.CheckoutBody("")
	withNUL["shipping_address"] = map[string]string{"name": "A\x00B", "line1": "1 Street", "city": "Berlin", "postal_code": "10115", "country": "DE"}
	for _, tt := range []struct {
		name   string
		client *shoptest.Client
		method string
		path   string
		body   any
		field  string
	}{
		{"register name with NUL", anon, "POST", "/api/users/register", map[string]string{"email": "nul@example.com", "password": "longenough", "name": "x\x00y"}, "name"},
		{"register name invalid UTF-8", anon, "POST", "/api/users/register", []byte("{\"email\":\"u8@example.com\",\"password\":\"longenough\",\"name\":\"x\xff\xfey\"}"), "name"},
		{"checkout address with NUL", c, "POST", "/api/checkout", withNUL, "shipping_address.name"},
		{"search with invalid UTF-8", anon, "GET", "/api/products?q=%FF%FE", nil, "q"},
		{"search with NUL", anon, "GET", "/api/products?q=a%00b", nil, "q"},
	} {
		r := tt.client.Do(tt.method, tt.path, tt.body, nil)
		if r.Status != http.StatusBadRequest || r.Error.Field != tt.field {
			t.Errorf("%s: %d %.200s, want 400 on %s", tt.name, r.Status, r.Body, tt.field)
		}
	}
}

// An idempotency key names one checkout: reused for another body it is refused
// (422), never replayed; and two checkouts of one cart at once charge once.
func TestCheckout_KeysAndRacesChargeOnce(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	c := s.NewShopper(t)
	c.AddToCart("SKU-00008", 1)
	key := http.Header{"Idempotency-Key": {"checkout-" + shoptest.RandomHex(8)}}
	if r := c.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), key); r.Status != http.StatusCreated {
		t.Fatalf("checkout: %d %s", r.Status, r.Body)
	}
	other := shoptest.CheckoutBody("")
	other["shipping_address"] = map[string]string{"name": "Someone Else", "line1": "2 Road", "city": "Paris", "postal_code": "75001", "country": "FR"}
	if r := c.Do("POST", "/api/checkout", other, key); r.Status != http.StatusUnprocessableEntity || r.Error.Code != "idempotency_key_reused" {
		t.Errorf("the key with another body: %d %s, want 422 idempotency_key_reused", r.Status, r.Body)
	}

	racer := s.NewShopper(t)
	var me struct{ ID string }
	racer.Do("GET", "/api/users/me", nil, nil).Decode(t, &me)
	racer.AddToCart("SKU-00009", 1)
	counts := shoptest.Concurrently(6, func(int) shoptest.Response {
		return racer.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), nil)
	})
	var placed int
	if err := s.Connect(t, "orders").QueryRow(context.Background(),
		`SELECT count(*) FROM orders WHERE user_id = $1 AND status = 'placed'`, me.ID).Scan(&placed); err != nil {
		t.Fatal(err)
	}
	var standing int
	if err := s.Connect(t, "payments").QueryRow(context.Background(),
		`SELECT count(*) FROM charges c WHERE c.status = 'succeeded' AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.charge_id = c.id)`).Scan(&standing); err != nil {
		t.Fatal(err)
	}
	// Each is answered with the one order (201 once placed, 200 while pending).
	if counts[http.StatusCreated]+counts[http.StatusOK] != 6 || placed != 1 || standing != 2 {
		t.Errorf("6 checkouts of one cart at once: answers %v, %d orders placed, %d charges standing in all; want every answer the one order, one order placed and two charges (this one and the first test's)",
			counts, placed, standing)
	}
}

// Obviously invalid cards are refused before the processor sees them.
func TestCards_ObviouslyInvalidRefused(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	c := s.NewShopper(t)
	c.AddToCart("SKU-00010", 1)
	for _, number := range []string{"0000000000000000", "9999999999999995", "1234567812345670"} {
		if r := c.Do("POST", "/api/checkout", shoptest.CheckoutBody(number), nil); r.Status != http.StatusBadRequest || r.Error.Field != "payment.card_number" {
			t.Errorf("card %s: %d %s, want 400 on payment.card_number", number, r.Status, r.Body)
		}
	}
}

// Guessing passwords is bounded per account: after a few wrong ones the account
// answers 429 with Retry-After, even for the right password, for a while.
func TestLogin_GuessingBoundedPerAccount(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	victim := s.NewShopper(t)
	anon := s.Anonymous(t)
	limited := 0
	for i := range 20 {
		r := anon.Do("POST", "/api/users/login", map[string]string{"email": victim.Email, "password": fmt.Sprintf("guess-%d", i)}, nil)
		if r.Status == http.StatusTooManyRequests {
			limited++
			if r.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		}
	}
	if limited < 10 {
		t.Errorf("%d of 20 wrong passwords in a row were limited, want most", limited)
	}
	if r := anon.Do("POST", "/api/users/login", map[string]string{"email": victim.Email, "password": victim.Password}, nil); r.Status != http.StatusTooManyRequests {
		t.Errorf("the right password during the lockout: %d, want 429", r.Status)
	}
	other := s.NewShopper(t) // another account is not locked
	if r := anon.Do("POST", "/api/users/login", map[string]string{"email": other.Email, "password": other.Password}, nil); r.Status != http.StatusOK {
		t.Errorf("another account's login: %d %s", r.Status, r.Body)
	}
}

// No request can make a span larger than a few KB.
func TestSpans_AttributeValuesBounded(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	agent := strings.Repeat("A", 200_000)
	r := s.Anonymous(t).Do("GET", "/api/products/"+strings.Repeat("x", 5000), nil, http.Header{"User-Agent": {agent}})
	if r.Status >= 500 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	s.Flush(t)
	for _, sp := range s.Spans.GetSpans() {
		for _, kv := range sp.Attributes {
			if n := len(kv.Value.Emit()); n > 2048 {
				t.Errorf("span %s of %s: attribute %s is %d bytes", sp.Name, sp.Resource, kv.Key, n)
			}
		}
	}
}

// Smaller findings: orders carry only what the contract says; a path that
// climbs out is refused, not redirected; a body that trickles in is a 408.
func TestSmallerFindings(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	c := s.NewShopper(t)
	c.AddToCart("SKU-00011", 1)
	r := c.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), nil)
	for _, field := range []string{`"payment_id"`, `"shipping_address"`} {
		if strings.Contains(string(r.Body), field) {
			t.Errorf("the order carries %s beyond the contract: %s", field, r.Body)
		}
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(s.GatewayURL + "/api/products/%2E%2E")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("/api/products/%%2E%%2E: %d (Location %q), want 400", resp.StatusCode, resp.Header.Get("Location"))
	}
	if status := trickle(t, s.GatewayURL+"/api/users/login", 8*time.Second); status != http.StatusRequestTimeout {
		t.Errorf("a body sent a byte a second: %d, want 408", status)
	}
}

// trickle sends a login whose body comes a byte a second and returns the status
// of the answer, or 0 when none came within limit.
func trickle(t *testing.T, url string, limit time.Duration) int {
	t.Helper()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"email":"slow@example.com","password":"slowly-typed"}`
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", u.Path, u.Host, len(body))
	answered := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	deadline := time.After(limit)
	for i := 0; ; i++ {
		select {
		case status := <-answered:
			return status
		case <-deadline:
			return 0
		case <-time.After(time.Second):
			if i < len(body) {
				_, _ = conn.Write([]byte{body[i]})
			}
		}
	}
}
