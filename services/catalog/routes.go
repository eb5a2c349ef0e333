package catalog

import (
	"net/http"

	"github.com/otelshop/shop/internal/auth"
)

// The catalogue is read by the gateway (shoppers), cart and orders; changed by
// operators only.
func (s *server) routes(mux *http.ServeMux) {
	readers, operators := s.auth.Callers("gateway", "cart", "orders"), s.auth.Callers(auth.RoleAdmin)
	mux.Handle("GET /v1/products", readers(s.handleList()))
	mux.Handle("GET /v1/products/{id}", readers(s.handleGet()))
	mux.Handle("GET /v1/categories", readers(s.handleCategories()))
	mux.Handle("POST /v1/products", operators(s.handleCreate()))
	mux.Handle("PUT /v1/products/{id}", operators(s.handleUpdate()))
}
