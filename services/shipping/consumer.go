package shipping

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/internal/ids"
	"github.com/otelshop/shop/internal/rabbit"
	"github.com/otelshop/shop/services/orders"
	"github.com/otelshop/shop/telemetry"
)

// consumer turns order.placed events into shipments.
type consumer struct {
	store    store
	tel      *telemetry.Telemetry
	created  metric.Int64Counter
	quotes   metric.Int64Histogram
	carrier  *carrier
	trackers *trackers
}

func newConsumer(st store, tel *telemetry.Telemetry, stall, leak *flags.Fault) *consumer {
	meter := tel.Meter(scope)
	c := &consumer{store: st, tel: tel, carrier: &carrier{stall: stall, tracer: tel.Tracer(scope)}, trackers: &trackers{fault: leak}}
	c.created, _ = meter.Int64Counter("shop.shipping.shipments", metric.WithDescription("Shipments created, by carrier."))
	c.quotes, _ = meter.Int64Histogram("shop.shipping.quote", metric.WithUnit("{USD_cent}"),
		metric.WithDescription("Shipping quotes, in US cents."),
		metric.WithExplicitBucketBoundaries(0, 500, 1000, 1500, 2000, 3000, 5000))
	return c
}

// handleOrderPlaced creates the order's shipment. It is safe to call twice for one
// order: the second call finds the shipment and changes nothing.
func (c *consumer) handleOrderPlaced(ctx context.Context, d amqp.Delivery) error {
	var ev orders.OrderPlaced
	if err := json.Unmarshal(d.Body, &ev); err != nil {
		return fmt.Errorf("%w: decode order.placed: %v", rabbit.ErrPoison, err)
	}
	orderID, ok := ids.UUID(ev.OrderID)
	userID, userOK := ids.UUID(ev.UserID)
	if !ok || !userOK || len(ev.Items) == 0 || ev.ShippingAddress.Country == "" {
		return fmt.Errorf("%w: order.placed without order id, user, items or destination", rabbit.ErrPoison)
	}
	q := quoteFor(ev)
	if err := c.carrier.bookPickup(ctx, ev.ShippingAddress.Country); err != nil {
		return fmt.Errorf("book the pickup: %w", err)
	}
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.String("shop.order.id", orderID), attribute.String("shop.shipping.carrier", q.carrier),
		attribute.Int64("shop.shipping.quote_cents", q.cents))
	id, _ := uuid.NewV7()
	created, err := c.store.create(ctx, Shipment{ID: id.String(), OrderID: orderID, UserID: userID, Carrier: q.carrier, QuoteCents: q.cents,
		Country: ev.ShippingAddress.Country, Units: q.units}, d.MessageId)
	if err != nil {
		return err
	}
	span.SetAttributes(attribute.Bool("shop.shipping.duplicate", !created))
	if !created {
		c.tel.Logger.InfoContext(ctx, "duplicate order.placed ignored", "order_id", orderID, "message_id", d.MessageId)
		return nil
	}
	c.trackers.start(ctx)
	attrs := metric.WithAttributes(attribute.String("carrier", q.carrier))
	c.created.Add(ctx, 1, attrs)
	c.quotes.Record(ctx, q.cents, attrs)
	c.tel.Logger.InfoContext(ctx, "shipment created", "order_id", orderID, "carrier", q.carrier, "quote_cents", q.cents)
	return nil
}
