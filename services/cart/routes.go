package cart

import "net/http"

func (s *server) routes(mux *http.ServeMux) {
	mux.Handle("GET /v1/cart", s.handleGet())
	mux.Handle("POST /v1/cart/items", s.handleAdd())
	mux.Handle("PUT /v1/cart/items/{product_id}", s.handleSet())
	mux.Handle("DELETE /v1/cart/items/{product_id}", s.handleRemove())
	mux.Handle("DELETE /v1/cart", s.handleClear())
}
