package users

import (
	"net/http"

	"github.com/otelshop/shop/internal/auth"
)

// Accounts are reached through the gateway only; the token endpoint authenticates
// clients by their secrets; the public keys are public.
func (s *server) routes(mux *http.ServeMux) {
	gateway := s.auth.Callers("gateway")
	mux.Handle("POST /v1/users", gateway(s.handleRegister()))
	mux.Handle("POST /v1/sessions", gateway(s.handleLogin()))
	mux.Handle("GET /v1/users/me", s.auth.ForUser("gateway")(s.handleMe()))
	mux.Handle("POST "+auth.TokenPath, s.handleToken())
	mux.Handle("GET "+auth.JWKSPath, s.handleJWKS())
}
