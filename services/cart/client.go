package cart

import (
	"context"
	"net/http"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/httpx"
)

// Client is how orders reads and clears the cart of the user a request acts for
// (the user's token, in the context, goes with each call).
type Client struct{ api httpx.Client }

// NewClient returns a cart client for baseURL, calling with creds.
func NewClient(baseURL string, hc *http.Client, creds *auth.Credentials) *Client {
	return &Client{api: httpx.Client{BaseURL: baseURL, HTTP: hc, Authorize: creds.Authorize}}
}

// Get returns the user's cart.
func (c *Client) Get(ctx context.Context) (Cart, error) {
	var out Cart
	err := c.api.Idempotent(ctx, http.MethodGet, "/v1/cart", "/v1/cart", nil, nil, &out)
	return out, err
}

// Clear empties the user's cart; clearing twice is harmless, so it is retried.
func (c *Client) Clear(ctx context.Context) error {
	return c.api.Idempotent(ctx, http.MethodDelete, "/v1/cart", "/v1/cart", nil, nil, nil)
}
