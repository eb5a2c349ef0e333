// Package orders owns orders and the checkout saga that makes them: reserve stock
// (inventory, gRPC), charge (payments), commit the stock, then place the order and
// write its order.placed event to an outbox in one transaction; a relay publishes the
// outbox to RabbitMQ. PostgreSQL database shop_orders.
package orders

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/pg"
	"github.com/otelshop/shop/internal/rabbit"
	"github.com/otelshop/shop/services/cart"
	"github.com/otelshop/shop/services/catalog"
	"github.com/otelshop/shop/services/inventory"
	"github.com/otelshop/shop/services/payments"
	"github.com/otelshop/shop/telemetry"
)

const scope = "github.com/otelshop/shop/services/orders"

// Config is what the orders service needs.
type Config struct {
	Addr            string
	PostgresURL     string
	Database        string
	RabbitURL       string
	Exchange        string
	CartURL         string
	CatalogURL      string
	PaymentsURL     string
	InventoryTarget string
	RelayInterval   time.Duration
	// PendingTimeout: a checkout pending this long died midway and is cleaned up.
	PendingTimeout time.Duration
}

// Run serves the orders API and runs the outbox relay and the pending sweeper until
// ctx ends.
func Run(ctx context.Context, cfg Config, tel *telemetry.Telemetry) error {
	db, err := pg.Open(ctx, cfg.PostgresURL, cfg.Database, migrationFiles, tel)
	if err != nil {
		return fmt.Errorf("orders: %w", err)
	}
	defer db.Close()
	inv, err := inventory.NewClient(cfg.InventoryTarget, tel)
	if err != nil {
		return fmt.Errorf("orders: %w", err)
	}
	defer inv.Close()
	pub := rabbit.NewPublisher(cfg.RabbitURL, cfg.Exchange, tel)
	defer pub.Close()
	hc := tel.HTTPClient(5 * time.Second)
	deps := Deps{
		Cart:      cart.NewClient(cfg.CartURL, hc),
		Catalog:   catalog.NewClient(cfg.CatalogURL, hc),
		Payments:  payments.NewClient(cfg.PaymentsURL, hc, tel),
		Inventory: inv,
	}
	s := newServer(store{db}, deps, newRelay(db, pub, cfg.RelayInterval, tel), tel)

	var wg sync.WaitGroup
	bg, stopBackground := context.WithCancel(ctx)
	wg.Go(func() { s.relay.run(bg) })
	wg.Go(func() { s.sweepLoop(bg, cfg.PendingTimeout) })
	checks := map[string]httpx.Check{
		"postgres": db.Ping,
		"rabbitmq": func(ctx context.Context) error { return rabbit.Ping(ctx, cfg.RabbitURL) },
	}
	err = httpx.Serve(ctx, tel.Logger, "orders", cfg.Addr, s.handler(checks), nil)
	stopBackground()
	wg.Wait()
	// One last pass so that events of checkouts finished while draining leave now.
	if _, rerr := s.relay.relayOnce(context.Background()); rerr != nil {
		tel.Logger.Warn("final outbox pass", "error", rerr)
	}
	return err
}

// Deps are the services orders calls.
type Deps struct {
	Cart      *cart.Client
	Catalog   *catalog.Client
	Payments  *payments.Client
	Inventory *inventory.Client
}

type server struct {
	store     store
	cart      *cart.Client
	catalog   *catalog.Client
	payments  *payments.Client
	inventory *inventory.Client
	relay     *relay
	tel       *telemetry.Telemetry
	tracer    trace.Tracer

	placed   metric.Int64Counter
	failures metric.Int64Counter
	revenue  metric.Int64Counter
	duration metric.Float64Histogram
	outcome  map[string]metric.MeasurementOption
	// refundsDue is how many failed orders still wait for their refund after the
	// sweeper's last pass: above zero for long, payments is refusing refunds.
	refundsDue metric.Int64Gauge
}

func newServer(st store, d Deps, r *relay, tel *telemetry.Telemetry) *server {
	meter := tel.Meter(scope)
	s := &server{store: st, cart: d.Cart, catalog: d.Catalog, payments: d.Payments, inventory: d.Inventory,
		relay: r, tel: tel, tracer: tel.Tracer(scope)}
	s.placed, _ = meter.Int64Counter("shop.orders.placed", metric.WithDescription("Orders placed."))
	s.failures, _ = meter.Int64Counter("shop.orders.failed", metric.WithDescription("Checkouts that failed, by reason."))
	s.revenue, _ = meter.Int64Counter("shop.orders.revenue", metric.WithUnit("{USD_cent}"),
		metric.WithDescription("Value of placed orders, in US cents."))
	s.duration, _ = meter.Float64Histogram("shop.checkout.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of checkouts, by outcome."))
	s.refundsDue, _ = meter.Int64Gauge("shop.orders.refunds_due", metric.WithUnit("{order}"),
		metric.WithDescription("Failed orders whose refund payments has not yet confirmed, after the last retry."))
	s.outcome = map[string]metric.MeasurementOption{}
	for _, o := range []string{"placed", "failed"} {
		s.outcome[o] = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", o)))
	}
	return s
}

func (s *server) outcomeAttrs(o string) metric.MeasurementOption { return s.outcome[o] }

func (s *server) handler(checks map[string]httpx.Check) http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	httpx.HandleHealth(mux, checks)
	return s.tel.HTTPServer(httpx.Middleware(s.tel.Logger, mux))
}

func (s *server) sweepLoop(ctx context.Context, olderThan time.Duration) {
	t := time.NewTicker(max(olderThan/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.sweepPending(ctx, olderThan); err != nil && ctx.Err() == nil {
			s.tel.Logger.Warn("sweep abandoned checkouts", "error", err)
		}
		if _, err := s.settleRefunds(ctx); err != nil && ctx.Err() == nil {
			s.tel.Logger.Warn("settle refunds due", "error", err)
		}
	}
}

func (s *server) handleCheckout() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		userID, err := auth.UserID(r)
		if err != nil {
			return err
		}
		key := r.Header.Get("Idempotency-Key")
		if key != "" && !idempotencyKeyPattern.MatchString(key) {
			return httpx.Invalid("Idempotency-Key", "must be 8 to 100 letters, digits or ._:-")
		}
		req, err := httpx.Decode[checkoutRequest](r)
		if err != nil {
			return err
		}
		o, err := s.checkout(r.Context(), userID, key, req)
		if err != nil {
			return err
		}
		status := http.StatusCreated
		if o.Status != StatusPlaced {
			status = http.StatusOK // a replay of a checkout that failed or is still running
		}
		httpx.WriteJSON(w, status, o)
		return nil
	})
}

func (s *server) handleList() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		userID, err := auth.UserID(r)
		if err != nil {
			return err
		}
		limit, err := httpx.QueryInt(r, "limit", 50, 1, 200)
		if err != nil {
			return err
		}
		orders, err := s.store.list(r.Context(), userID, limit)
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, map[string][]Order{"orders": orders})
		return nil
	})
}

func (s *server) handleGet() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		userID, err := auth.UserID(r)
		if err != nil {
			return err
		}
		id, err := uuid.Parse(r.PathValue("id"))
		if err != nil {
			return httpx.Invalid("id", "must be an order id")
		}
		o, err := s.store.get(r.Context(), userID, id.String())
		if errors.Is(err, errNoOrder) {
			return httpx.NotFound("order") // also for another user's order: no hint it exists
		}
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, o)
		return nil
	})
}
