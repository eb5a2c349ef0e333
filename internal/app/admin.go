package app

import (
	"context"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/service"
	"github.com/otelshop/shop/telemetry"
)

// adminOptions say what the admin endpoint serves beyond metrics and health.
type adminOptions struct {
	pprof      bool          // ADMIN_PPROF=true: /debug/pprof/, off by default
	maxProfile time.Duration // the longest CPU profile or execution trace it takes
}

func adminSettings(env *service.Env) adminOptions {
	return adminOptions{
		pprof:      env.String("ADMIN_PPROF", "false") == "true",
		maxProfile: env.PositiveDuration("ADMIN_PPROF_MAX_SECONDS", 30*time.Second),
	}
}

// serveAdmin serves the process's operational endpoints on ln: Prometheus metrics
// (Go and process collectors) for the collector to scrape and liveness; pprof only
// when an operator turned it on, and then with profiles bounded in time. It binds
// loopback unless ADMIN_ADDR says otherwise (compose and Kubernetes let the
// collector in, and only the collector).
func serveAdmin(ctx context.Context, ln net.Listener, tel *telemetry.Telemetry, o adminOptions) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(tel.Registry, promhttp.HandlerOpts{Registry: tel.Registry}))
	httpx.HandleHealth(mux, nil)
	if o.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.Handle("/debug/pprof/profile", boundedSeconds(o.maxProfile, http.HandlerFunc(pprof.Profile)))
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.Handle("/debug/pprof/trace", boundedSeconds(o.maxProfile, http.HandlerFunc(pprof.Trace)))
	}
	return service.ServeHTTP(ctx, tel.Logger.With("component", "admin"), "admin", ln, mux)
}

// boundedSeconds refuses a ?seconds= longer than limit: a profile runs as long as
// it is asked to, and holds the profiler meanwhile.
func boundedSeconds(limit time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("seconds"); v != "" {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil || n <= 0 || time.Duration(n*float64(time.Second)) > limit {
				http.Error(w, "seconds must be above 0 and at most "+strconv.Itoa(int(limit.Seconds())), http.StatusBadRequest)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
