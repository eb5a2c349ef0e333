// Package app assembles the shop's processes: it reads the configuration, starts each
// service with its own telemetry, serves the per-process admin endpoint, and stops
// everything in order. cmd/shop and the tests both start the shop through Run.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/services/cart"
	"github.com/otelshop/shop/services/catalog"
	"github.com/otelshop/shop/services/gateway"
	"github.com/otelshop/shop/services/inventory"
	"github.com/otelshop/shop/services/orders"
	"github.com/otelshop/shop/services/payments"
	"github.com/otelshop/shop/services/shipping"
	"github.com/otelshop/shop/services/users"
	"github.com/otelshop/shop/telemetry"
)

// ServiceNames lists the services in the order `shop all` starts them.
var ServiceNames = []string{"users", "catalog", "cart", "inventory", "payments", "orders", "shipping", "gateway"}

// Options say what to run and how.
type Options struct {
	Services    []string // some of ServiceNames
	ProcessName string   // service.name of the process-wide telemetry
	Version     string
	Getenv      func(string) string
	Stdout      io.Writer
	// Telemetry, when set, adjusts each telemetry configuration before it starts
	// (tests put in-memory exporters here), and Started sees each one started.
	Telemetry func(*telemetry.Config)
	Started   func(*telemetry.Telemetry)
}

// Run runs the services until ctx ends or one of them fails, then stops them all and
// flushes their telemetry. Each service has its own telemetry, so each is its own
// service in every backend even when all share one process.
func Run(ctx context.Context, o Options) error {
	cfg, err := loadConfig(o.Getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	base := telemetry.ConfigFromEnv(o.ProcessName, o.Version, o.Getenv)
	base.LogOutput = o.Stdout
	var tels []*telemetry.Telemetry
	defer func() {
		shutdownCtx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		for _, t := range slices.Backward(tels) {
			if err := t.Shutdown(shutdownCtx); err != nil {
				fmt.Fprintln(o.Stdout, "telemetry shutdown:", err)
			}
		}
	}()
	start := func(name string, processWide bool) (*telemetry.Telemetry, error) {
		c := base
		c.ServiceName, c.ProcessWide = name, processWide
		if o.Telemetry != nil {
			o.Telemetry(&c)
		}
		t, err := telemetry.Start(ctx, c)
		if err != nil {
			return nil, err
		}
		tels = append(tels, t)
		if o.Started != nil {
			o.Started(t)
		}
		return t, nil
	}

	single := len(o.Services) == 1
	process, err := start(o.ProcessName, true)
	if err != nil {
		return err
	}
	if cfg.Gateway.JWTSecret == devJWTSecret {
		process.Logger.Warn("JWT_SECRET is not set; using the development secret")
	}

	var wg sync.WaitGroup
	errs := make(chan error, len(o.Services)+1)
	wg.Go(func() {
		if err := serveAdmin(ctx, cfg.AdminAddr, process); err != nil {
			errs <- err
			cancel()
		}
	})
	var startErr error
	for _, name := range o.Services {
		tel := process
		if !single {
			if tel, startErr = start(name, false); startErr != nil {
				cancel()
				break
			}
		}
		wg.Go(func() {
			if err := runService(ctx, name, cfg, tel); err != nil {
				tel.Logger.Error("service stopped", "error", err)
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		})
	}
	wg.Wait()
	close(errs)
	all := []error{startErr}
	for e := range errs {
		all = append(all, e)
	}
	return errors.Join(all...)
}

func runService(ctx context.Context, name string, cfg config, tel *telemetry.Telemetry) error {
	switch name {
	case "gateway":
		return gateway.Run(ctx, cfg.Gateway, tel)
	case "users":
		return users.Run(ctx, cfg.Users, tel)
	case "catalog":
		return catalog.Run(ctx, cfg.Catalog, tel)
	case "cart":
		return cart.Run(ctx, cfg.Cart, tel)
	case "inventory":
		return inventory.Run(ctx, cfg.Inventory, tel)
	case "orders":
		return orders.Run(ctx, cfg.Orders, tel)
	case "payments":
		return payments.Run(ctx, cfg.Payments, tel)
	case "shipping":
		return shipping.Run(ctx, cfg.Shipping, tel)
	}
	return fmt.Errorf("no service %q", name)
}

// serveAdmin serves the process's operational endpoints: Prometheus metrics (Go and
// process collectors) for the collector to scrape, liveness, and pprof.
func serveAdmin(ctx context.Context, addr string, tel *telemetry.Telemetry) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(tel.Registry, promhttp.HandlerOpts{Registry: tel.Registry}))
	httpx.HandleHealth(mux, nil)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return httpx.Serve(ctx, tel.Logger.With("component", "admin"), "admin", addr, mux, nil)
}
