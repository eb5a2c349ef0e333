package payments

import "net/http"

func (s *server) routes(mux *http.ServeMux) {
	mux.Handle("POST /v1/charges", s.handleCharge())
	mux.Handle("GET /v1/charges", s.handleFindCharge())
	mux.Handle("GET /v1/charges/{id}", s.handleGetCharge())
	mux.Handle("POST /v1/charges/{id}/refund", s.handleRefund())
	mux.Handle("GET /v1/provider", s.handleGetProvider())
	mux.Handle("PUT /v1/provider", s.handleSetProvider())
}
