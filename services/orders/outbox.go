package orders

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/internal/rabbit"
	"github.com/otelshop/shop/internal/service"
	"github.com/otelshop/shop/telemetry"
)

// relay publishes outbox events to RabbitMQ in order, marking each published only after
// the broker confirmed it. If RabbitMQ is down, events wait in the outbox; if the
// process dies between publishing and marking, the event is published again and
// consumers deduplicate it by message id. Nothing is lost either way.
//
// Every replica of orders runs a relay. A batch is claimed with FOR UPDATE SKIP
// LOCKED, so replicas publish disjoint batches side by side (each in order; no
// consumer relies on the order across orders), and the batch of a replica killed
// mid-way is unlocked when its connection drops and published again by another.
type relay struct {
	db        *pgxpool.Pool
	publisher *rabbit.Publisher
	tel       *telemetry.Telemetry
	tracer    trace.Tracer
	wakeCh    chan struct{}
	failing   bool         // the last pass could not publish
	stall     *flags.Fault // ordersOutboxStall
	blocked   bool         // the stall was logged

	published metric.Int64Counter
	lag       metric.Float64Histogram
}

const relayBatch = 100

func newRelay(db *pgxpool.Pool, pub *rabbit.Publisher, tel *telemetry.Telemetry) *relay {
	meter := tel.Meter(scope)
	r := &relay{db: db, publisher: pub, tel: tel, tracer: tel.Tracer(scope), wakeCh: make(chan struct{}, 1)}
	r.published, _ = meter.Int64Counter("shop.outbox.published", metric.WithDescription("Outbox events published, by routing key."))
	r.lag, _ = meter.Float64Histogram("shop.outbox.lag", metric.WithUnit("s"),
		metric.WithDescription("Time from an event's commit to the broker's confirm."))
	_, _ = meter.Int64ObservableGauge("shop.outbox.pending",
		metric.WithDescription("Outbox events not yet published."),
		metric.WithInt64Callback(func(ctx context.Context, o metric.Int64Observer) error {
			var n int64
			if err := db.QueryRow(telemetry.Unsampled(ctx), `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
				return err
			}
			o.Observe(n)
			return nil
		}))
	_, _ = meter.Float64ObservableGauge("shop.outbox.oldest_age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest outbox event not yet published (0 when none waits): how far behind the relay is."),
		metric.WithFloat64Callback(func(ctx context.Context, o metric.Float64Observer) error {
			var age float64
			if err := db.QueryRow(telemetry.Unsampled(ctx), `SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
				FROM outbox WHERE published_at IS NULL`).Scan(&age); err != nil {
				return err
			}
			o.Observe(age)
			return nil
		}))
	return r
}

// wake asks the relay to look now rather than at its next tick.
func (r *relay) wake() {
	select {
	case r.wakeCh <- struct{}{}:
	default:
	}
}

// run relays every interval and whenever woken, and drops published events a
// day old every ten minutes, until ctx ends.
func (r *relay) run(ctx context.Context, interval time.Duration) {
	var wg sync.WaitGroup
	wg.Go(func() { service.Every(ctx, 10*time.Minute, nil, r.cleanUp) })
	service.Every(ctx, interval, r.wakeCh, r.drain)
	wg.Wait()
}

// drain publishes until the outbox is empty or publishing fails; it logs once
// when publishing stops working and once when it works again.
func (r *relay) drain(ctx context.Context) {
	if _, on := r.stall.On(ctx); on {
		// What a relay sees while the broker blocks its connection (flow control
		// under a memory or disk alarm): publishing waits, the outbox grows.
		if !r.blocked {
			r.tel.Logger.Warn("outbox relay: the RabbitMQ connection is blocked; events wait in the outbox")
			r.blocked = true
		}
		return
	}
	if r.blocked {
		r.tel.Logger.Info("outbox relay: the RabbitMQ connection is unblocked")
		r.blocked = false
	}
	for {
		n, err := r.relayOnce(ctx)
		if err != nil {
			if !r.failing && ctx.Err() == nil {
				r.tel.Logger.Warn("outbox relay cannot publish; events wait in the outbox", "error", err)
			}
			r.failing = true
			return
		}
		if r.failing {
			r.tel.Logger.Info("outbox relay publishing again")
			r.failing = false
		}
		if n < relayBatch {
			return
		}
	}
}

func (r *relay) cleanUp(ctx context.Context) {
	if _, err := r.db.Exec(telemetry.Unsampled(ctx), `DELETE FROM outbox WHERE published_at < now() - interval '1 day'`); err != nil {
		r.tel.Logger.Warn("clean up published outbox events", "error", err)
	}
}

type outboxRow struct {
	id          int64
	messageID   string
	routingKey  string
	payload     []byte
	traceparent string
	createdAt   time.Time
}

// relayOnce publishes up to relayBatch events, oldest first, and stops at the first
// failure so that events leave in order.
func (r *relay) relayOnce(ctx context.Context) (int, error) {
	sent := 0
	var publishErr error
	err := pgx.BeginFunc(telemetry.Unsampled(ctx), r.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(telemetry.Unsampled(ctx), `SELECT id, message_id, routing_key, payload, traceparent, created_at
			FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, relayBatch)
		if err != nil {
			return fmt.Errorf("select outbox: %w", err)
		}
		batch, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (outboxRow, error) {
			var o outboxRow
			return o, row.Scan(&o.id, &o.messageID, &o.routingKey, &o.payload, &o.traceparent, &o.createdAt)
		})
		if err != nil {
			return err
		}
		for _, ev := range batch {
			if publishErr = r.publish(ctx, tx, ev); publishErr != nil {
				break // commit the events marked so far; the rest wait, in order
			}
			sent++
		}
		return nil
	})
	if err != nil {
		// Rolled back: events published in this batch are published again later and
		// deduplicated by their consumers.
		return 0, err
	}
	return sent, publishErr
}

// publish sends one event in an "outbox relay" span that continues the trace of the
// checkout that wrote it, so one trace runs from the gateway to shipping.
func (r *relay) publish(ctx context.Context, tx pgx.Tx, ev outboxRow) error {
	parent := ctx
	if sc := telemetry.SpanContextFromTraceparent(ev.traceparent); sc.IsValid() {
		parent = trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	ctx, span := r.tracer.Start(parent, "outbox relay "+ev.routingKey, trace.WithAttributes(
		semconv.MessagingMessageID(ev.messageID),
		attribute.Float64("shop.outbox.wait_seconds", time.Since(ev.createdAt).Seconds())))
	defer span.End()
	err := r.publisher.Publish(ctx, rabbit.Message{ID: ev.messageID, RoutingKey: ev.routingKey, Body: ev.payload, Type: ev.routingKey})
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE id = $1`, ev.id); err != nil {
		return fmt.Errorf("mark outbox event published: %w", err)
	}
	attrs := metric.WithAttributes(attribute.String("routing_key", ev.routingKey))
	r.published.Add(ctx, 1, attrs)
	r.lag.Record(ctx, time.Since(ev.createdAt).Seconds(), attrs)
	return nil
}
