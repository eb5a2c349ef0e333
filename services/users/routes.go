package users

import "net/http"

func (s *server) routes(mux *http.ServeMux) {
	mux.Handle("POST /v1/users", s.handleRegister())
	mux.Handle("POST /v1/sessions", s.handleLogin())
	mux.Handle("GET /v1/users/me", s.handleMe())
}
