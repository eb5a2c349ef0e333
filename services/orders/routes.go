package orders

import "net/http"

// Orders are a user's own, reached through the gateway only.
func (s *server) routes(mux *http.ServeMux) {
	forUser := s.auth.ForUser("gateway")
	mux.Handle("POST /v1/checkout", forUser(s.handleCheckout()))
	mux.Handle("GET /v1/orders", forUser(s.handleList()))
	mux.Handle("GET /v1/orders/{id}", forUser(s.handleGet()))
}
