// Package gateway is the shop's only public entry: a JSON API under /api/ that verifies
// the access token, limits each client's request rate, bounds bodies and time, and
// forwards to the services with the trace context propagated; the storefront's pages
// at / (package storefront); and POST /otlp/v1/traces, which takes the storefront's
// browser spans to the collector (traces.go).
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
	// RateLimitStore is where the budgets are kept: redis (one per client, shared by
	// every gateway) or local (each gateway its own); see ratelimit.go.
	RateLimitStore string
	// LoginRateLimit bounds registrations and logins per client address, a second.
	LoginRateLimit float64
	LoginRateBurst int
	// BodyTimeout bounds how long a request body may take to arrive.
	BodyTimeout time.Duration
	// Timeout bounds a request end to end; checkouts get CheckoutTimeout.
	Timeout         time.Duration
	CheckoutTimeout time.Duration
	// BrowserTracesURL is the collector's OTLP/HTTP traces endpoint, where
	// POST /otlp/v1/traces forwards the browsers' spans; TracesRateLimit bounds
	// those requests per client address, a second.
	BrowserTracesURL string
	TracesRateLimit  float64
	TracesRateBurst  int
	// JaegerUIURL is where the storefront links a checkout's trace; empty for no link.
	JaegerUIURL string
	// SecureCookie marks the session cookie Secure also on plain HTTP requests
	// (TLS ended in front of the gateway); over TLS it always is.
	SecureCookie bool
}

// Service is the gateway as the registry lists it.
var Service = service.Definition{
	Name: "gateway", Port: 8080, Protocol: service.HTTP,
	Summary: "the public JSON API and the storefront",
	Calls:   []string{"users", "catalog", "cart", "orders", "shipping"},
	Stores:  []service.Store{service.Redis}, // the rate limits' shared budgets
	Load:    func(env *service.Env) service.Runner { return service.With(run, loadConfig(env)) },
}

// loadConfig reads the gateway's settings; the defaults are docs/contract.md's
// (TestConfig_DefaultsAreTheContracts).
func loadConfig(env *service.Env) Config {
	cfg := Config{
		RateLimit:       env.Float("RATE_LIMIT_RPS", 100, 0, 1e6),
		RateBurst:       env.Int("RATE_LIMIT_BURST", 200, 1, 1_000_000),
		LoginRateLimit:  env.Float("LOGIN_RATE_LIMIT_RPS", 5, 0, 1e6),
		LoginRateBurst:  env.Int("LOGIN_RATE_LIMIT_BURST", 20, 1, 1_000_000),
		BodyTimeout:     env.PositiveDuration("REQUEST_BODY_TIMEOUT", 5*time.Second),
		Timeout:         env.PositiveDuration("REQUEST_TIMEOUT", 10*time.Second),
		CheckoutTimeout: env.PositiveDuration("CHECKOUT_TIMEOUT", 20*time.Second),

		BrowserTracesURL: env.String("BROWSER_TRACES_URL", "http://127.0.0.1:4318/v1/traces"),
		TracesRateLimit:  env.Float("TRACES_RATE_LIMIT_RPS", 5, 0, 1e6),
		TracesRateBurst:  env.Int("TRACES_RATE_LIMIT_BURST", 50, 1, 1_000_000),
		JaegerUIURL:      env.String("JAEGER_UI_URL", "http://127.0.0.1:16686"),
		SecureCookie:     env.String("SESSION_COOKIE_SECURE", "false") == "true",
	}
	if cfg.RateLimitStore = env.String("RATE_LIMIT_STORE", rateLimitRedis); cfg.RateLimitStore != rateLimitRedis && cfg.RateLimitStore != rateLimitLocal {
		env.Fail(fmt.Errorf("RATE_LIMIT_STORE=%q: want redis or local", cfg.RateLimitStore))
	}
	return cfg
}

// run serves the public API until ctx ends.
func run(ctx context.Context, rt service.Runtime, cfg Config) error {
	s, err := newServer(cfg, rt.Peers, rt.Identity.Guard, rt.Identity.Credentials, rt.Telemetry)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if cfg.RateLimitStore == rateLimitRedis {
		closeShared, err := shareBudgets(rt, map[string]*limiter{"api": s.limiter, "login": s.logins, "traces": s.traces})
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		defer closeShared()
	}
	for _, l := range []*limiter{s.limiter, s.logins, s.traces} {
		if l != nil {
			go service.Every(ctx, time.Minute, nil, func(context.Context) { l.forgetIdle(time.Now()) })
		}
	}
	return rt.ServeHTTP(ctx, httpx.Handler(rt.Telemetry, s.routes, nil, s.guard))
}
