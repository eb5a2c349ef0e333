package shipping

import "net/http"

// A shipment is its owner's, reached through the gateway.
func (s *server) routes(mux *http.ServeMux) {
	mux.Handle("GET /v1/shipments", s.auth.ForUser("gateway")(s.handleFind()))
}
