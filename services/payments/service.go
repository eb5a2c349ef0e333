// Package payments charges and refunds cards against a simulated processor whose
// latency, decline rate and error rate are set at run time. Charges and refunds are
// idempotent: a retried charge never charges twice. PostgreSQL database shop_payments.
package payments

import (
	"context"
	"fmt"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/service"
)

const scope = "github.com/otelshop/shop/services/payments"

// Service is the payments service as the registry lists it.
var Service = service.Definition{
	Name: "payments", Port: 8086, Protocol: service.HTTP,
	Summary: "simulated card payments",
	Stores:  []service.Store{service.Postgres},
	Faults:  faults,
	Load: func(env *service.Env) service.Runner {
		settings := ProviderSettings{
			LatencyMS:   env.Int("PAYMENTS_LATENCY_MS", 20, 0, 10_000),
			FailureRate: env.Float("PAYMENTS_FAILURE_RATE", 0.02, 0, 1),
			ErrorRate:   env.Float("PAYMENTS_ERROR_RATE", 0, 0, 1),
		}
		return service.With(run, settings)
	},
}

func run(ctx context.Context, rt service.Runtime, settings ProviderSettings) error {
	db, err := rt.Postgres(ctx, migrationFiles)
	if err != nil {
		return fmt.Errorf("payments: %w", err)
	}
	defer db.Close()
	p := &provider{settings: settings, slow: rt.Fault(faultSlowProcessor), outage: rt.Fault(faultBrandOutage)}
	s := newServer(store{db}, p, rt.Identity.Guard, rt.Telemetry)
	return rt.ServeHTTP(ctx, httpx.Handler(rt.Telemetry, s.routes, map[string]httpx.Check{"postgres": db.Ping}))
}
