package payments

import (
	"net/http"

	"github.com/otelshop/shop/internal/auth"
)

// Money moves for orders only; operators read charges and set the simulated
// processor.
func (s *server) routes(mux *http.ServeMux) {
	orders, operators := s.auth.Callers("orders"), s.auth.Callers(auth.RoleAdmin)
	mux.Handle("POST /v1/charges", orders(s.handleCharge()))
	mux.Handle("GET /v1/charges", s.auth.Callers("orders", auth.RoleAdmin)(s.handleFindCharge()))
	mux.Handle("GET /v1/charges/{id}", s.auth.Callers("orders", auth.RoleAdmin)(s.handleGetCharge()))
	mux.Handle("POST /v1/charges/{id}/refund", orders(s.handleRefund()))
	mux.Handle("POST /v1/charges/void", orders(s.handleVoid()))
	mux.Handle("GET /v1/provider", operators(s.handleGetProvider()))
	mux.Handle("PUT /v1/provider", operators(s.handleSetProvider()))
}
