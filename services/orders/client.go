package orders

import (
	"context"
	"net/http"
	"net/url"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/httpx"
)

// Client is how the gateway asks whether an order is a user's.
type Client struct{ api httpx.Client }

// NewClient returns an orders client for baseURL.
func NewClient(baseURL string, hc *http.Client) *Client {
	return &Client{api: httpx.Client{BaseURL: baseURL, HTTP: hc}}
}

// Get returns userID's order; another user's order is an *httpx.Error 404.
func (c *Client) Get(ctx context.Context, userID, orderID string) (Order, error) {
	var o Order
	err := c.api.Idempotent(ctx, http.MethodGet, "/v1/orders/{id}", "/v1/orders/"+url.PathEscape(orderID),
		http.Header{auth.UserHeader: {userID}}, nil, &o)
	return o, err
}
