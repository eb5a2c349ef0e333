// Package catalog owns the product catalogue: listing with pagination and category
// filter, text search, product detail, and back-office create and update. PostgreSQL
// database shop_catalog, with a Redis read-through cache.
package catalog

import (
	"context"
	"fmt"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/service"
)

const scope = "github.com/otelshop/shop/services/catalog"

// Service is the catalog service as the registry lists it.
var Service = service.Definition{
	Name: "catalog", Port: 8082, Protocol: service.HTTP,
	Summary: "products",
	Stores:  []service.Store{service.Postgres, service.Redis},
	Faults:  faults,
	Load:    service.NoSettings(run),
}

// run seeds an empty catalogue and serves the catalog API until ctx ends.
func run(ctx context.Context, rt service.Runtime) error {
	db, err := rt.Postgres(ctx, migrationFiles)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer db.Close()
	rdb, err := rt.Redis(ctx)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer rdb.Close()
	st := store{db}
	if n, err := st.seed(ctx); err != nil {
		return fmt.Errorf("catalog: %w", err)
	} else if n > 0 {
		rt.Telemetry.Logger.Info("seeded the catalogue", "products", n)
	}
	tel := rt.Telemetry
	fs := faultSet{cacheBypass: rt.Fault(faultCacheBypass), slowSearch: rt.Fault(faultSlowSearch),
		productErrors: rt.Fault(faultProductErrors), relatedHog: rt.Fault(faultRelatedHog), trendingLock: rt.Fault(faultTrendingLock)}
	s := newServer(st, newCache(rdb, rt.Stores.KeyPrefix, tel.Meter(scope), tel.Logger, fs.cacheBypass), rt.Identity.Guard, tel, fs)
	checks := map[string]httpx.Check{
		"postgres": db.Ping,
		"redis":    func(ctx context.Context) error { return rdb.Ping(ctx).Err() },
	}
	return rt.ServeHTTP(ctx, httpx.Handler(tel, s.routes, checks))
}
