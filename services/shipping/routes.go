package shipping

import "net/http"

func (s *server) routes(mux *http.ServeMux) {
	mux.Handle("GET /v1/shipments", s.handleFind())
}
