package orders

import "net/http"

func (s *server) routes(mux *http.ServeMux) {
	mux.Handle("POST /v1/checkout", s.handleCheckout())
	mux.Handle("GET /v1/orders", s.handleList())
	mux.Handle("GET /v1/orders/{id}", s.handleGet())
}
