// Package orders owns orders and the checkout saga that makes them: reserve stock
// (inventory, gRPC), charge (payments), commit the stock, then place the order and
// write its order.placed event to an outbox in one transaction; a relay publishes the
// outbox to RabbitMQ. PostgreSQL database shop_orders.
package orders

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/rabbit"
	"github.com/otelshop/shop/internal/service"
	"github.com/otelshop/shop/services/cart"
	"github.com/otelshop/shop/services/catalog"
	"github.com/otelshop/shop/services/inventory"
	"github.com/otelshop/shop/services/payments"
)

const scope = "github.com/otelshop/shop/services/orders"

// Config is what the orders service reads.
type Config struct {
	RelayInterval time.Duration // how often the outbox is looked at when nothing wakes the relay
	// PendingTimeout: a checkout pending this long died midway and is cleaned up.
	PendingTimeout time.Duration
}

// Service is the orders service as the registry lists it.
var Service = service.Definition{
	Name: "orders", Port: 8085, Protocol: service.HTTP,
	Summary: "checkout and orders",
	Calls:   []string{"cart", "catalog", "inventory", "payments"},
	Stores:  []service.Store{service.Postgres, service.RabbitMQ},
	Faults:  faults,
	Load: func(env *service.Env) service.Runner {
		cfg := Config{
			RelayInterval:  env.PositiveDuration("OUTBOX_INTERVAL", 500*time.Millisecond),
			PendingTimeout: env.PositiveDuration("PENDING_ORDER_TIMEOUT", 10*time.Minute),
		}
		return service.With(run, cfg)
	},
}

// run serves the orders API and runs the outbox relay and the sweeper until ctx ends.
func run(ctx context.Context, rt service.Runtime, cfg Config) error {
	tel := rt.Telemetry
	db, err := rt.Postgres(ctx, migrationFiles)
	if err != nil {
		return fmt.Errorf("orders: %w", err)
	}
	defer db.Close()
	creds := rt.Identity.Credentials
	inv, err := inventory.NewClient(rt.Peer("inventory"), tel, creds)
	if err != nil {
		return fmt.Errorf("orders: %w", err)
	}
	defer inv.Close()
	pub := rabbit.NewPublisher(rt.Stores.RabbitURL, rt.Stores.Exchange, tel)
	defer pub.Close()
	hc := tel.HTTPClient(5 * time.Second)
	st := store{db}
	relay := newRelay(db, pub, tel)
	relay.stall = rt.Fault(faultOutboxStall)
	pay := payments.NewClient(rt.Peer("payments"), hc, creds, tel)
	pay.RetryStorm(rt.Fault(faultRetryStorm))
	checkout := newSaga(sagaDeps{
		cart:      cart.NewClient(rt.Peer("cart"), hc, creds),
		catalog:   catalog.NewClient(rt.Peer("catalog"), hc, creds),
		payments:  pay,
		inventory: inv,
		store:     st,
		placed:    relay.wake,
	}, tel)
	s := newServer(st, checkout, rt.Identity.Guard, rt.Fault(faultNPlusOne))

	var wg sync.WaitGroup
	bg, stopBackground := context.WithCancel(ctx)
	wg.Go(func() { relay.run(bg, cfg.RelayInterval) })
	wg.Go(func() { holdConnections(bg, db, rt.Fault(faultPoolExhausted), tel.Tracer(scope)) })
	wg.Go(func() {
		service.Every(bg, max(cfg.PendingTimeout/4, time.Second), nil, func(ctx context.Context) {
			checkout.sweep(ctx, cfg.PendingTimeout)
		})
	})
	checks := map[string]httpx.Check{
		"postgres": db.Ping,
		"rabbitmq": func(ctx context.Context) error { return rabbit.Ping(ctx, rt.Stores.RabbitURL) },
	}
	err = rt.ServeHTTP(ctx, httpx.Handler(tel, s.routes, checks))
	stopBackground()
	wg.Wait()
	// One last pass so that events of checkouts finished while draining leave now.
	if _, rerr := relay.relayOnce(context.Background()); rerr != nil {
		tel.Logger.Warn("final outbox pass", "error", rerr)
	}
	return err
}
