package cart

import "net/http"

// Carts are changed for a verified user only, by the gateway (the shopper) or by
// orders (the checkout).
func (s *server) routes(mux *http.ServeMux) {
	forUser := s.auth.ForUser("gateway", "orders")
	mux.Handle("GET /v1/cart", forUser(s.handleGet()))
	mux.Handle("POST /v1/cart/items", forUser(s.handleAdd()))
	mux.Handle("PUT /v1/cart/items/{product_id}", forUser(s.handleSet()))
	mux.Handle("DELETE /v1/cart/items/{product_id}", forUser(s.handleRemove()))
	mux.Handle("DELETE /v1/cart", forUser(s.handleClear()))
}
