package shoptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Client calls the gateway's public API the way a shopper's app does.
type Client struct {
	t        testing.TB
	base     string
	http     *http.Client
	Token    string
	Email    string
	Password string
}

// Response is an answer: its status, body and, for errors, the decoded error.
// A request that got no answer has Status 0, Err set and the error as Body, so
// that Do can be called from any goroutine: it never stops the test itself.
type Response struct {
	Status int
	Body   []byte
	Header http.Header
	Err    error
	Error  struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// Decode unmarshals the body into v, failing the test when there was no answer
// or it does not parse. Call it on the test's goroutine.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("no answer: %v", r.Err)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Anonymous returns a client without credentials.
func (s *Shop) Anonymous(t testing.TB) *Client {
	return &Client{t: t, base: s.GatewayURL, http: &http.Client{Timeout: 30 * time.Second}}
}

// NewShopper registers a new account and logs in with it.
func (s *Shop) NewShopper(t testing.TB) *Client {
	t.Helper()
	c := s.Anonymous(t)
	c.Email = "shopper-" + RandomHex(6) + "@example.com"
	c.Password = "pw-" + RandomHex(8)
	if r := c.Do("POST", "/api/users/register", map[string]string{"email": c.Email, "password": c.Password, "name": "Test Shopper"}, nil); r.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	var login struct {
		Token string `json:"token"`
	}
	r := c.Do("POST", "/api/users/login", map[string]string{"email": c.Email, "password": c.Password}, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	r.Decode(t, &login)
	c.Token = login.Token
	return c
}

// Do sends body (a value to encode as JSON, raw []byte, or nil) and returns the
// answer. It is safe on any goroutine.
func (c *Client) Do(method, path string, body any, header http.Header) Response {
	failed := func(err error) Response {
		err = fmt.Errorf("%s %s: %w", method, path, err)
		return Response{Err: err, Body: []byte(err.Error())}
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return failed(fmt.Errorf("encode: %w", err))
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return failed(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return failed(err)
	}
	defer resp.Body.Close()
	out := Response{Status: resp.StatusCode, Header: resp.Header}
	if out.Body, err = io.ReadAll(resp.Body); err != nil {
		return failed(fmt.Errorf("read: %w", err))
	}
	if resp.StatusCode >= 400 {
		_ = json.Unmarshal(out.Body, &out)
	}
	return out
}

// Checkout body with a card and address; card defaults to one that succeeds.
func CheckoutBody(card string) map[string]any {
	if card == "" {
		card = "4242424242424242"
	}
	return map[string]any{
		"payment":          map[string]string{"card_number": card, "expiry": "12/39", "cvc": "123"},
		"shipping_address": map[string]string{"name": "Test Shopper", "line1": "1 Test Street", "city": "Berlin", "postal_code": "10115", "country": "DE"},
	}
}

// AddToCart adds quantity of product, failing the test if refused.
func (c *Client) AddToCart(productID string, quantity int) {
	c.t.Helper()
	if r := c.Do("POST", "/api/cart/items", map[string]any{"product_id": productID, "quantity": quantity}, nil); r.Status != http.StatusOK {
		c.t.Fatalf("add %s to cart: %d %s", productID, r.Status, r.Body)
	}
}

// Eventually retries check until it returns nil or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Concurrently sends n requests at once (send(i) for i in [0, n)) and counts the
// answers by status code.
func Concurrently(n int, send func(i int) Response) map[int]int {
	var (
		mu     sync.Mutex
		counts = map[int]int{}
		wg     sync.WaitGroup
	)
	for i := range n {
		wg.Go(func() {
			r := send(i)
			mu.Lock()
			counts[r.Status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return counts
}
