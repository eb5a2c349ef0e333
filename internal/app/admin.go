package app

import (
	"context"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/service"
	"github.com/otelshop/shop/telemetry"
)

// serveAdmin serves the process's operational endpoints on ln: Prometheus metrics
// (Go and process collectors) for the collector to scrape, liveness, and pprof.
func serveAdmin(ctx context.Context, ln net.Listener, tel *telemetry.Telemetry) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(tel.Registry, promhttp.HandlerOpts{Registry: tel.Registry}))
	httpx.HandleHealth(mux, nil)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return service.ServeHTTP(ctx, tel.Logger.With("component", "admin"), "admin", ln, mux)
}
