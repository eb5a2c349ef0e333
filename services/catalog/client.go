package catalog

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/httpx"
)

// Client is how other services read the catalogue.
type Client struct{ api httpx.Client }

// NewClient returns a catalog client for baseURL, calling with creds.
func NewClient(baseURL string, hc *http.Client, creds *auth.Credentials) *Client {
	return &Client{api: httpx.Client{BaseURL: baseURL, HTTP: hc, Authorize: creds.Authorize}}
}

// Product returns one product; a missing one is an *httpx.Error with status 404.
func (c *Client) Product(ctx context.Context, id string) (Product, error) {
	var p Product
	err := c.api.Idempotent(ctx, http.MethodGet, "/v1/products/{id}", "/v1/products/"+url.PathEscape(id), nil, nil, &p)
	return p, err
}

// Products returns the products with the given ids (at most MaxIDsPerQuery) by id;
// unknown ids are absent from the map.
func (c *Client) Products(ctx context.Context, ids []string) (map[string]Product, error) {
	var page Page
	path := "/v1/products?ids=" + url.QueryEscape(strings.Join(ids, ","))
	err := c.api.Idempotent(ctx, http.MethodGet, "/v1/products", path, nil, nil, &page)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]Product, len(page.Products))
	for _, p := range page.Products {
		byID[p.ID] = p
	}
	return byID, nil
}
