package storefront

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// apiError is an error answer of the public API: {"error":{"code","message","field"}}.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// RetryAfter is the answer's Retry-After header, when it had one.
	RetryAfter string `json:"-"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// call sends a request without a body to the public API in process (see send).
func (s *Storefront) call(r *http.Request, token, method, path string, out any) error {
	return s.send(nil, r, token, method, path, nil, out)
}

// send sends one request to the public API in process, as the shopper of r when
// token is set, and decodes a success into out (when not nil). The request
// carries r's context (the page's span is the parent of the API's client spans)
// and r's remote address (the API's rate limits count it as the shopper's). A
// body is read from r's connection, so w is r's ResponseWriter then.
func (s *Storefront) send(w http.ResponseWriter, r *http.Request, token, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(r.Context(), method, path, body)
	if err != nil {
		return fmt.Errorf("storefront: request %s %s: %w", method, path, err)
	}
	req.RemoteAddr, req.Host = r.RemoteAddr, r.Host
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := &captured{outer: w, header: http.Header{}}
	s.cfg.API.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 400 {
		e := &apiError{Status: rec.status, RetryAfter: rec.header.Get("Retry-After")}
		var wrapped struct{ Error *apiError }
		wrapped.Error = e
		if err := json.Unmarshal(rec.body.Bytes(), &wrapped); err != nil || e.Code == "" {
			e.Code, e.Message = "unexpected_answer", http.StatusText(rec.status)
		}
		return e
	}
	if out == nil || rec.status == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("storefront: decode %s %s: %w", method, path, err)
	}
	return nil
}

// captured is the ResponseWriter of an in-process API call: it keeps the answer
// for the page. Flush is a no-op (the answer is read whole); a read deadline the
// API sets for a request body applies to the page request's connection, which
// is where that body comes from (outer may be nil for calls without a body).
type captured struct {
	outer  http.ResponseWriter
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captured) Header() http.Header { return c.header }

func (c *captured) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

func (c *captured) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(p)
}

func (c *captured) Flush() {}

func (c *captured) SetReadDeadline(t time.Time) error {
	if c.outer == nil {
		return http.ErrNotSupported
	}
	return http.NewResponseController(c.outer).SetReadDeadline(t)
}

// The API's answers, as much of them as the pages show (docs/contract.md).
type (
	product struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Description string `json:"description"`
		Category    string `json:"category"`
		PriceCents  int64  `json:"price_cents"`
		Currency    string `json:"currency"`
	}
	productPage struct {
		Products []product `json:"products"`
		Page     int       `json:"page"`
		PageSize int       `json:"page_size"`
		Total    int       `json:"total"`
	}
	category struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	cartItem struct {
		ProductID string `json:"product_id"`
		Quantity  int    `json:"quantity"`
	}
	cartBody struct {
		Items []cartItem `json:"items"`
	}
	orderItem struct {
		ProductID  string `json:"product_id"`
		Quantity   int    `json:"quantity"`
		PriceCents int64  `json:"price_cents"`
	}
	order struct {
		ID            string      `json:"id"`
		Status        string      `json:"status"`
		TotalCents    int64       `json:"total_cents"`
		Currency      string      `json:"currency"`
		Items         []orderItem `json:"items"`
		FailureReason string      `json:"failure_reason"`
		CreatedAt     time.Time   `json:"created_at"`
	}
	shipment struct {
		ID         string    `json:"id"`
		Status     string    `json:"status"`
		Carrier    string    `json:"carrier"`
		QuoteCents int64     `json:"quote_cents"`
		Country    string    `json:"country"`
		Units      int       `json:"units"`
		CreatedAt  time.Time `json:"created_at"`
	}
)
