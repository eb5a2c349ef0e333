package shipping

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/otelshop/shop/internal/rabbit"
	"github.com/otelshop/shop/internal/storetest"
	"github.com/otelshop/shop/services/orders"
	"github.com/otelshop/shop/telemetry"
)

// Two shipping replicas consume one queue while every order.placed arrives several
// times at once: republished with its message id (a relay that died before marking
// it published) and as a second event for the same order. Each order gets one
// shipment: the unique order id, not the consumers, is the guard, so this test fails
// without it.
func TestOrderPlaced_TwoReplicas_DuplicatesAtOnce_OneShipmentPerOrder(t *testing.T) {
	db := storetest.Database(t, migrationFiles)
	rabbitURL := storetest.RabbitURL(t)
	prefix := storetest.Name("ship")
	subscription := rabbit.Subscription{Exchange: prefix + ".events", RoutingKey: orders.RoutingKeyOrderPlaced,
		Queue: prefix + ".shipping", MaxAttempts: 5, RetryDelay: 100 * time.Millisecond, Prefetch: 32, Workers: 4}
	t.Cleanup(func() { removeTopology(t, rabbitURL, subscription) })

	tel, err := telemetry.Start(context.Background(), telemetry.Config{ServiceName: "shipping-test", Disabled: true, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	var handled atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		c := newConsumer(store{db}, tel, nil, nil)
		wg.Go(func() {
			_ = rabbit.Consume(ctx, rabbitURL, subscription, tel, func(ctx context.Context, d amqp.Delivery) error {
				defer handled.Add(1)
				return c.handleOrderPlaced(ctx, d)
			})
		})
	}
	defer func() { cancel(); wg.Wait() }()
	// The queue exists once a consumer declared it: until then a publish is unroutable.
	waitFor(t, 10*time.Second, func() error { _, err := rabbit.QueueDepth(ctx, rabbitURL, subscription.Queue); return err })

	const ordersPlaced, copies = 50, 3
	pub := rabbit.NewPublisher(rabbitURL, subscription.Exchange, tel)
	defer pub.Close()
	var publishers sync.WaitGroup
	start := make(chan struct{})
	for i := range ordersPlaced {
		orderID, _ := uuid.NewV7()
		body, _ := json.Marshal(orders.OrderPlaced{OrderID: orderID.String(), UserID: orderID.String(),
			Items: []orders.Item{{ProductID: "SKU-00001", Quantity: 1, PriceCents: 1000}}, TotalCents: 1000, Currency: "USD",
			ShippingAddress: orders.Address{Name: "A", Line1: "B", City: "C", PostalCode: "D", Country: "DE"}, PlacedAt: time.Now()})
		messageID, _ := uuid.NewV7()
		for c := range copies {
			id := messageID.String()
			if c == copies-1 {
				other, _ := uuid.NewV7() // the same order announced by another event
				id = other.String()
			}
			publishers.Go(func() {
				<-start
				if err := pub.Publish(ctx, rabbit.Message{ID: id, RoutingKey: orders.RoutingKeyOrderPlaced, Body: body, Type: orders.RoutingKeyOrderPlaced}); err != nil {
					t.Errorf("publish copy %d of order %d: %v", c, i, err)
				}
			})
		}
	}
	close(start)
	publishers.Wait()
	waitFor(t, 30*time.Second, func() error {
		if n := handled.Load(); n < ordersPlaced*copies {
			return fmt.Errorf("%d of %d deliveries handled", n, ordersPlaced*copies)
		}
		return nil
	})

	var shipments, shippedOrders int
	if err := db.QueryRow(ctx, `SELECT count(*), count(DISTINCT order_id) FROM shipments`).Scan(&shipments, &shippedOrders); err != nil {
		t.Fatal(err)
	}
	if shipments != ordersPlaced || shippedOrders != ordersPlaced {
		t.Errorf("%d shipments for %d orders, each announced %d times; want one shipment per order (%d)",
			shipments, shippedOrders, copies, ordersPlaced)
	}
	if n, err := rabbit.QueueDepth(ctx, rabbitURL, subscription.DeadLetterQueue()); err != nil || n != 0 {
		t.Errorf("%d messages dead-lettered (%v), want none: a duplicate is not a failure", n, err)
	}
}

func waitFor(t *testing.T, within time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func removeTopology(t *testing.T, url string, s rabbit.Subscription) {
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Errorf("clean up: %v", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Errorf("clean up: %v", err)
		return
	}
	for _, q := range []string{s.Queue, s.Queue + ".retry", s.DeadLetterQueue()} {
		_, _ = ch.QueueDelete(q, false, false, false)
	}
	_ = ch.ExchangeDelete(s.Queue+".retry", false, false)
	_ = ch.ExchangeDelete(s.Exchange, false, false)
}
