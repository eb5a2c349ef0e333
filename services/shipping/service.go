// Package shipping turns placed orders into shipments: it consumes order.placed from
// RabbitMQ, quotes and stores a shipment, and acknowledges only after its own commit.
// Redeliveries find the shipment already there; messages that cannot be handled go to
// a dead-letter queue after bounded retries. PostgreSQL database shop_shipping.
package shipping

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/rabbit"
	"github.com/otelshop/shop/internal/service"
	"github.com/otelshop/shop/services/orders"
)

const scope = "github.com/otelshop/shop/services/shipping"

// Service is the shipping service as the registry lists it.
var Service = service.Definition{
	Name: "shipping", Port: 8087, Protocol: service.HTTP,
	Summary: "shipments from order events",
	Stores:  []service.Store{service.Postgres, service.RabbitMQ},
	Faults:  faults,
	Load: func(env *service.Env) service.Runner {
		sub := rabbit.Subscription{
			RoutingKey:  orders.RoutingKeyOrderPlaced,
			Queue:       env.String("SHIPPING_QUEUE", "shipping.order-placed"),
			MaxAttempts: env.Int("SHIPPING_MAX_ATTEMPTS", 5, 1, 100),
			RetryDelay:  env.PositiveDuration("SHIPPING_RETRY_DELAY", time.Second),
			// Two messages a worker: more would sit unacknowledged in this
			// process, where the queue's depth (the backlog alert) cannot see
			// them and another replica cannot take them.
			Prefetch: 8,
			Workers:  4,
		}
		return service.With(run, sub)
	},
}

// run consumes order events and serves the shipments API until ctx ends.
func run(ctx context.Context, rt service.Runtime, sub rabbit.Subscription) error {
	tel := rt.Telemetry
	db, err := rt.Postgres(ctx, migrationFiles)
	if err != nil {
		return fmt.Errorf("shipping: %w", err)
	}
	defer db.Close()
	sub.Exchange = rt.Stores.Exchange
	rabbitURL := rt.Stores.RabbitURL
	_, _ = tel.Meter(scope).Int64ObservableGauge("shop.shipping.backlog",
		metric.WithDescription("order.placed events waiting for shipping."),
		metric.WithInt64Callback(func(ctx context.Context, o metric.Int64Observer) error {
			n, err := rabbit.QueueDepth(ctx, rabbitURL, sub.Queue)
			if err != nil {
				return err
			}
			o.Observe(int64(n))
			return nil
		}))
	c := newConsumer(store{db}, tel, rt.Fault(faultCarrierStall), rt.Fault(faultTrackerLeak))
	s := newServer(store{db}, rt.Identity.Guard)

	var wg sync.WaitGroup
	consumeCtx, stopConsuming := context.WithCancel(ctx)
	wg.Go(func() { _ = rabbit.Consume(consumeCtx, rabbitURL, sub, tel, c.handleOrderPlaced) })
	checks := map[string]httpx.Check{
		"postgres": db.Ping,
		"rabbitmq": func(ctx context.Context) error { return rabbit.Ping(ctx, rabbitURL) },
	}
	err = rt.ServeHTTP(ctx, httpx.Handler(tel, s.routes, checks))
	stopConsuming()
	wg.Wait()
	return err
}
