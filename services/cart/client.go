package cart

import (
	"context"
	"net/http"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/httpx"
)

// Client is how orders reads and clears a user's cart.
type Client struct{ api httpx.Client }

// NewClient returns a cart client for baseURL.
func NewClient(baseURL string, hc *http.Client) *Client {
	return &Client{api: httpx.Client{BaseURL: baseURL, HTTP: hc}}
}

func userHeader(userID string) http.Header { return http.Header{auth.UserHeader: {userID}} }

// Get returns the user's cart.
func (c *Client) Get(ctx context.Context, userID string) (Cart, error) {
	var out Cart
	err := c.api.Idempotent(ctx, http.MethodGet, "/v1/cart", "/v1/cart", userHeader(userID), nil, &out)
	return out, err
}

// Clear empties the user's cart; clearing twice is harmless, so it is retried.
func (c *Client) Clear(ctx context.Context, userID string) error {
	return c.api.Idempotent(ctx, http.MethodDelete, "/v1/cart", "/v1/cart", userHeader(userID), nil, nil)
}
