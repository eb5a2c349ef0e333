// Package cart owns shoppers' carts: one Redis hash per user, changed atomically and
// bounded in size. Products are checked against the catalogue when added.
package cart

import (
	"context"
	"fmt"
	"time"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/service"
	"github.com/otelshop/shop/services/catalog"
)

const scope = "github.com/otelshop/shop/services/cart"

// Service is the cart service as the registry lists it.
var Service = service.Definition{
	Name: "cart", Port: 8083, Protocol: service.HTTP,
	Summary: "carts",
	Calls:   []string{"catalog"},
	Stores:  []service.Store{service.Redis},
	Faults:  faults,
	Load:    service.NoSettings(run),
}

func run(ctx context.Context, rt service.Runtime) error {
	rdb, err := rt.Redis(ctx)
	if err != nil {
		return fmt.Errorf("cart: %w", err)
	}
	defer rdb.Close()
	tel := rt.Telemetry
	s := newServer(store{rdb: rdb, prefix: rt.Stores.KeyPrefix},
		catalog.NewClient(rt.Peer("catalog"), tel.HTTPClient(2*time.Second), rt.Identity.Credentials), rt.Identity.Guard, tel,
		rt.Fault(faultMemoryLeak))
	checks := map[string]httpx.Check{"redis": func(ctx context.Context) error { return rdb.Ping(ctx).Err() }}
	return rt.ServeHTTP(ctx, httpx.Handler(tel, s.routes, checks))
}
