// Package shipping turns placed orders into shipments: it consumes order.placed from
// RabbitMQ, quotes and stores a shipment, and acknowledges only after its own commit.
// Redeliveries find the shipment already there; messages that cannot be handled go to
// a dead-letter queue after bounded retries. PostgreSQL database shop_shipping.
package shipping

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/pg"
	"github.com/otelshop/shop/internal/rabbit"
	"github.com/otelshop/shop/services/orders"
	"github.com/otelshop/shop/telemetry"
)

const scope = "github.com/otelshop/shop/services/shipping"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Config is what the shipping service needs.
type Config struct {
	Addr         string
	PostgresURL  string
	Database     string
	RabbitURL    string
	Subscription rabbit.Subscription
}

// Shipment is a parcel on its way.
type Shipment struct {
	ID         string    `json:"id"`
	OrderID    string    `json:"order_id"`
	Status     string    `json:"status"`
	Carrier    string    `json:"carrier"`
	QuoteCents int64     `json:"quote_cents"`
	Country    string    `json:"country"`
	Units      int       `json:"units"`
	CreatedAt  time.Time `json:"created_at"`
}

// Run consumes order events and serves the shipments API until ctx ends.
func Run(ctx context.Context, cfg Config, tel *telemetry.Telemetry) error {
	db, err := pg.Open(ctx, cfg.PostgresURL, cfg.Database, migrationFiles, tel)
	if err != nil {
		return fmt.Errorf("shipping: %w", err)
	}
	defer db.Close()
	s := newService(db, tel)
	_, _ = tel.Meter(scope).Int64ObservableGauge("shop.shipping.backlog",
		metric.WithDescription("order.placed events waiting for shipping."),
		metric.WithInt64Callback(func(ctx context.Context, o metric.Int64Observer) error {
			n, err := rabbit.QueueDepth(ctx, cfg.RabbitURL, cfg.Subscription.Queue)
			if err != nil {
				return err
			}
			o.Observe(int64(n))
			return nil
		}))

	var wg sync.WaitGroup
	consumeCtx, stopConsuming := context.WithCancel(ctx)
	wg.Go(func() { _ = rabbit.Consume(consumeCtx, cfg.RabbitURL, cfg.Subscription, tel, s.handleOrderPlaced) })
	checks := map[string]httpx.Check{
		"postgres": db.Ping,
		"rabbitmq": func(ctx context.Context) error { return rabbit.Ping(ctx, cfg.RabbitURL) },
	}
	err = httpx.Serve(ctx, tel.Logger, "shipping", cfg.Addr, s.handler(checks), nil)
	stopConsuming()
	wg.Wait()
	return err
}

type service struct {
	db      *pgxpool.Pool
	tel     *telemetry.Telemetry
	tracer  trace.Tracer
	created metric.Int64Counter
	quotes  metric.Int64Histogram
}

func newService(db *pgxpool.Pool, tel *telemetry.Telemetry) *service {
	meter := tel.Meter(scope)
	s := &service{db: db, tel: tel, tracer: tel.Tracer(scope)}
	s.created, _ = meter.Int64Counter("shop.shipping.shipments", metric.WithDescription("Shipments created, by carrier."))
	s.quotes, _ = meter.Int64Histogram("shop.shipping.quote", metric.WithUnit("{USD_cent}"),
		metric.WithDescription("Shipping quotes, in US cents."),
		metric.WithExplicitBucketBoundaries(0, 500, 1000, 1500, 2000, 3000, 5000))
	return s
}

// handleOrderPlaced creates the order's shipment. It is safe to call twice for one
// order: the second call finds the shipment and changes nothing.
func (s *service) handleOrderPlaced(ctx context.Context, d amqp.Delivery) error {
	var ev orders.OrderPlaced
	if err := json.Unmarshal(d.Body, &ev); err != nil {
		return fmt.Errorf("%w: decode order.placed: %v", rabbit.ErrPoison, err)
	}
	if _, err := uuid.Parse(ev.OrderID); err != nil || len(ev.Items) == 0 || ev.ShippingAddress.Country == "" {
		return fmt.Errorf("%w: order.placed without order id, items or destination", rabbit.ErrPoison)
	}
	carrier, quote, units := quoteFor(ev)
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.String("shop.order.id", ev.OrderID), attribute.String("shop.shipping.carrier", carrier),
		attribute.Int64("shop.shipping.quote_cents", quote))
	id, _ := uuid.NewV7()
	var created bool
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO shipments (id, order_id, message_id, status, carrier, quote_cents, country, units)
			VALUES ($1, $2, $3, 'created', $4, $5, $6, $7) ON CONFLICT (order_id) DO NOTHING`,
			id.String(), ev.OrderID, d.MessageId, carrier, quote, ev.ShippingAddress.Country, units)
		created = tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return fmt.Errorf("store shipment: %w", err)
	}
	span.SetAttributes(attribute.Bool("shop.shipping.duplicate", !created))
	if !created {
		s.tel.Logger.InfoContext(ctx, "duplicate order.placed ignored", "order_id", ev.OrderID, "message_id", d.MessageId)
		return nil
	}
	attrs := metric.WithAttributes(attribute.String("carrier", carrier))
	s.created.Add(ctx, 1, attrs)
	s.quotes.Record(ctx, quote, attrs)
	s.tel.Logger.InfoContext(ctx, "shipment created", "order_id", ev.OrderID, "carrier", carrier, "quote_cents", quote)
	return nil
}

// quoteFor prices a shipment: by destination, plus per unit, free over $150 at home.
func quoteFor(ev orders.OrderPlaced) (carrier string, cents int64, units int) {
	for _, it := range ev.Items {
		units += it.Quantity
	}
	switch country := ev.ShippingAddress.Country; {
	case country == "US":
		carrier, cents = "ground", 499
		if ev.TotalCents >= 15_000 {
			return carrier, 0, units
		}
	case euCountries[country]:
		carrier, cents = "euro-express", 1299
	default:
		carrier, cents = "world-post", 2499
	}
	return carrier, cents + int64(units-1)*99, units
}

var euCountries = map[string]bool{"AT": true, "BE": true, "BG": true, "HR": true, "CY": true, "CZ": true, "DK": true,
	"EE": true, "FI": true, "FR": true, "DE": true, "GR": true, "HU": true, "IE": true, "IT": true, "LV": true, "LT": true,
	"LU": true, "MT": true, "NL": true, "PL": true, "PT": true, "RO": true, "SK": true, "SI": true, "ES": true, "SE": true}

func (s *service) handler(checks map[string]httpx.Check) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /v1/shipments", s.handleFind())
	httpx.HandleHealth(mux, checks)
	return s.tel.HTTPServer(httpx.Middleware(s.tel.Logger, mux))
}

func (s *service) handleFind() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		orderID, err := uuid.Parse(r.URL.Query().Get("order_id"))
		if err != nil {
			return httpx.Invalid("order_id", "must be an order id")
		}
		var sh Shipment
		err = s.db.QueryRow(r.Context(), `SELECT id, order_id, status, carrier, quote_cents, country, units, created_at
			FROM shipments WHERE order_id = $1`, orderID.String()).
			Scan(&sh.ID, &sh.OrderID, &sh.Status, &sh.Carrier, &sh.QuoteCents, &sh.Country, &sh.Units, &sh.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return httpx.NotFound("shipment")
		}
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, sh)
		return nil
	})
}
