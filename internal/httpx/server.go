package httpx

import (
	"context"
	"net/http"
	"time"

	"github.com/otelshop/shop/telemetry"
)

// Handler is a service's handler stack: its routes and /healthz, /readyz on one
// mux, inside the shared middleware and the telemetry instrumentation. inner
// wraps the mux, innermost last (the gateway's guard runs there), and must pass
// the same *http.Request on (see telemetry.HTTPServer).
func Handler(tel *telemetry.Telemetry, routes func(*http.ServeMux), checks map[string]Check, inner ...func(http.Handler) http.Handler) http.Handler {
	mux := http.NewServeMux()
	routes(mux)
	HandleHealth(mux, checks)
	var h http.Handler = mux
	for _, wrap := range inner {
		h = wrap(h)
	}
	return tel.HTTPServer(Middleware(tel.Logger, h))
}

// Check reports whether one dependency is reachable.
type Check func(ctx context.Context) error

// HandleHealth adds /healthz (the process is alive) and /readyz (every check passes
// within a second) to mux.
func HandleHealth(mux *http.ServeMux, checks map[string]Check) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		status, failed := http.StatusOK, map[string]string{}
		for name, check := range checks {
			if err := check(ctx); err != nil {
				status, failed[name] = http.StatusServiceUnavailable, err.Error()
			}
		}
		if status != http.StatusOK {
			WriteJSON(w, status, map[string]any{"status": "unavailable", "failed": failed})
			return
		}
		WriteJSON(w, status, map[string]string{"status": "ok"})
	})
}
