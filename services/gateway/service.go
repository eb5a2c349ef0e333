// Package gateway is the shop's only public entry: a JSON API under /api/ that verifies
// the access token, limits each client's request rate, bounds bodies and time, and
// forwards to the services with the trace context propagated.
package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/service"
)

const scope = "github.com/otelshop/shop/services/gateway"

// Config is what the gateway reads.
type Config struct {
	// RateLimit is each client's sustained requests per second; 0 turns limiting off.
	RateLimit float64
	RateBurst int
	// LoginRateLimit bounds registrations and logins per client address, a second.
	LoginRateLimit float64
	LoginRateBurst int
	// BodyTimeout bounds how long a request body may take to arrive.
	BodyTimeout time.Duration
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
			RateLimit:       env.Float("RATE_LIMIT_RPS", 100, 0, 1e6),
			RateBurst:       env.Int("RATE_LIMIT_BURST", 200, 1, 1_000_000),
			LoginRateLimit:  env.Float("LOGIN_RATE_LIMIT_RPS", 1, 0, 1e6),
			LoginRateBurst:  env.Int("LOGIN_RATE_LIMIT_BURST", 20, 1, 1_000_000),
			BodyTimeout:     env.PositiveDuration("REQUEST_BODY_TIMEOUT", 5*time.Second),
			Timeout:         env.PositiveDuration("REQUEST_TIMEOUT", 10*time.Second),
			CheckoutTimeout: env.PositiveDuration("CHECKOUT_TIMEOUT", 20*time.Second),
		}
		return service.With(run, cfg)
	},
}

// run serves the public API until ctx ends.
func run(ctx context.Context, rt service.Runtime, cfg Config) error {
	s, err := newServer(cfg, rt.Peers, rt.Identity.Guard, rt.Identity.Credentials, rt.Telemetry)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	for _, l := range []*limiter{s.limiter, s.logins} {
		if l != nil {
			go service.Every(ctx, time.Minute, nil, func(context.Context) { l.forgetIdle(time.Now()) })
		}
	}
	return rt.ServeHTTP(ctx, httpx.Handler(rt.Telemetry, s.routes, nil, s.guard))
}
