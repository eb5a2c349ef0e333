package payments

import (
	"context"
	"net/http"
	"net/url"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/resilience"
	"github.com/otelshop/shop/telemetry"
)

// Client is how orders charges and refunds. Both calls are idempotent (by key, by
// charge), so both are retried, behind a circuit breaker.
type Client struct {
	api   httpx.Client
	guard *resilience.Guard
}

// NewClient returns a payments client for baseURL, calling with creds.
func NewClient(baseURL string, hc *http.Client, creds *auth.Credentials, tel *telemetry.Telemetry) *Client {
	return &Client{
		api:   httpx.Client{BaseURL: baseURL, HTTP: hc, Authorize: creds.Authorize},
		guard: resilience.NewGuard("payments", tel, httpx.Retryable, 0),
	}
}

// RetryStorm lets the ordersRetryStorm fault make this client retry
// recklessly (resilience.Guard.RetryStorm).
func (c *Client) RetryStorm(fault *flags.Fault) { c.guard.RetryStorm(fault) }

func (c *Client) do(ctx context.Context, method, template, path string, in, out any) error {
	return c.guard.Do(ctx, httpx.Retryable, func(ctx context.Context) error {
		return c.api.Do(ctx, method, template, path, nil, in, out)
	})
}

// Charge charges card amountCents once per key, however often it is called.
func (c *Client) Charge(ctx context.Context, key string, amountCents int64, card Card) (Charge, error) {
	var out Charge
	err := c.do(ctx, http.MethodPost, "/v1/charges", "/v1/charges",
		chargeRequest{IdempotencyKey: key, AmountCents: amountCents, Currency: "USD", Card: card}, &out)
	return out, err
}

// ChargeByKey returns the charge made with key; a missing one is an *httpx.Error 404.
func (c *Client) ChargeByKey(ctx context.Context, key string) (Charge, error) {
	var out Charge
	err := c.do(ctx, http.MethodGet, "/v1/charges", "/v1/charges?idempotency_key="+url.QueryEscape(key), nil, &out)
	return out, err
}

// Void answers whether money was taken with key, for good: the charge made with it,
// or, when there was none, a voided one that keeps any later charge with the key
// from happening (status ChargeVoided). Voiding twice answers the same.
func (c *Client) Void(ctx context.Context, key string) (Charge, error) {
	var out Charge
	err := c.do(ctx, http.MethodPost, "/v1/charges/void", "/v1/charges/void", voidRequest{IdempotencyKey: key}, &out)
	return out, err
}

// Refund returns a charge in full; refunding twice refunds once.
func (c *Client) Refund(ctx context.Context, chargeID string) (Refund, error) {
	var out Refund
	err := c.do(ctx, http.MethodPost, "/v1/charges/{id}/refund", "/v1/charges/"+url.PathEscape(chargeID)+"/refund", nil, &out)
	return out, err
}

// SetProvider changes the simulated processor.
func (c *Client) SetProvider(ctx context.Context, s ProviderSettings) error {
	return c.api.Do(ctx, http.MethodPut, "/v1/provider", "/v1/provider", nil, s, nil)
}
