// Package gateway is the shop's only public entry: a JSON API under /api/ that verifies
// the access token, limits each client's request rate, bounds bodies and time, and
// forwards to the services with the trace context propagated.
package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/service"
)

const scope = "github.com/otelshop/shop/services/gateway"

// Config is what the gateway reads.
type Config struct {
	JWTSecret string
	// RateLimit is each client's sustained requests per second; 0 turns limiting off.
	RateLimit float64
	RateBurst int
	// Timeout bounds a request end to end; checkouts get CheckoutTimeout.
	Timeout         time.Duration
	CheckoutTimeout time.Duration
}

// Service is the gateway as the registry lists it.
var Service = service.Definition{
	Name: "gateway", Port: 8080, Protocol: service.HTTP,
	Summary: "the public JSON API",
	Calls:   []string{"users", "catalog", "cart", "orders", "shipping"},
	Load: func(env *service.Env) service.Runner {
		cfg := Config{
			JWTSecret:       auth.Secret(env),
			RateLimit:       env.Float("RATE_LIMIT_RPS", 100, 0, 1e6),
			RateBurst:       env.Int("RATE_LIMIT_BURST", 200, 1, 1_000_000),
			Timeout:         env.PositiveDuration("REQUEST_TIMEOUT", 10*time.Second),
			CheckoutTimeout: env.PositiveDuration("CHECKOUT_TIMEOUT", 20*time.Second),
		}
		return func(ctx context.Context, rt service.Runtime) error { return run(ctx, rt, cfg) }
	},
}

// run serves the public API until ctx ends.
func run(ctx context.Context, rt service.Runtime, cfg Config) error {
	s, err := newServer(cfg, rt.Peers, rt.Telemetry)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if s.limiter != nil {
		go service.Every(ctx, time.Minute, nil, s.limiter.forgetIdle)
	}
	return rt.ServeHTTP(ctx, httpx.Handler(rt.Telemetry, s.routes, nil, s.guard))
}
