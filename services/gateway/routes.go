package gateway

import (
	"net/http"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/services/gateway/storefront"
)

func (s *server) routes(mux *http.ServeMux) {
	t, checkout := s.cfg.Timeout, s.cfg.CheckoutTimeout
	mux.Handle("POST /api/users/register", s.forward("users", t, to("/v1/users")))
	mux.Handle("POST /api/users/login", s.forward("users", t, to("/v1/sessions")))
	mux.Handle("GET /api/users/me", s.authenticated(s.forward("users", t, to("/v1/users/me"))))

	mux.Handle("GET /api/products", s.forward("catalog", t, to("/v1/products")))
	mux.Handle("GET /api/products/{id}", s.forward("catalog", t, withProductID("/v1/products/", "id")))
	mux.Handle("GET /api/categories", s.forward("catalog", t, to("/v1/categories")))

	mux.Handle("GET /api/cart", s.authenticated(s.forward("cart", t, to("/v1/cart"))))
	mux.Handle("DELETE /api/cart", s.authenticated(s.forward("cart", t, to("/v1/cart"))))
	mux.Handle("POST /api/cart/items", s.authenticated(s.forward("cart", t, to("/v1/cart/items"))))
	mux.Handle("PUT /api/cart/items/{product_id}", s.authenticated(s.forward("cart", t, withProductID("/v1/cart/items/", "product_id"))))
	mux.Handle("DELETE /api/cart/items/{product_id}", s.authenticated(s.forward("cart", t, withProductID("/v1/cart/items/", "product_id"))))

	mux.Handle("POST /api/checkout", s.authenticated(s.forward("orders", checkout, to("/v1/checkout"))))
	mux.Handle("GET /api/orders", s.authenticated(s.forward("orders", t, to("/v1/orders"))))
	mux.Handle("GET /api/orders/{id}", s.authenticated(s.forward("orders", t, withOrderID("/v1/orders/"))))
	mux.Handle("GET /api/orders/{id}/shipment", s.authenticated(s.forward("shipping", t, shipmentOf)))

	mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, httpx.NotFound("route "+r.Method+" "+r.URL.Path))
	}))

	// The browsers' spans, and nothing else: no logs, no metrics.
	mux.Handle("POST /otlp/v1/traces", s.forwardTraces())
	mux.Handle("/otlp/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, httpx.NotFound("route "+r.Method+" "+r.URL.Path+" (only POST /otlp/v1/traces takes telemetry)"))
	}))

	// The storefront's pages call the routes above in process, through the guard.
	storefront.New(storefront.Config{API: s.guard(mux), JaegerURL: s.cfg.JaegerUIURL,
		SecureCookie: s.cfg.SecureCookie, Logger: s.tel.Logger}).Routes(mux)
}
