package shipping_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/otelshop/shop/internal/rabbit"
	"github.com/otelshop/shop/internal/shoptest"
)

// Invariant 3: every placed order's order.placed reaches shipping exactly once in
// effect, although RabbitMQ goes away in the middle of the run and comes back.
func TestOrderPlaced_BrokerOutage_EveryOrderShippedOnce(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{RabbitProxy: true})
	product := s.NewProduct(t, 1200, 1000)
	const shoppers = 24
	clients := make([]*shoptest.Client, shoppers)
	for i := range clients {
		clients[i] = s.NewShopper(t)
		clients[i].AddToCart(product, 1)
	}

	placed := make(chan string, shoppers)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			// Spread the checkouts over about two seconds, across the outage.
			time.Sleep(time.Duration(i) * 80 * time.Millisecond)
			r := c.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), nil)
			if r.Status != http.StatusCreated {
				t.Errorf("checkout %d: %d %s", i, r.Status, r.Body)
				return
			}
			var o struct{ ID string }
			if err := json.Unmarshal(r.Body, &o); err != nil || o.ID == "" {
				t.Errorf("checkout %d: answer %s: %v", i, r.Body, err)
				return
			}
			placed <- o.ID
		})
	}
	time.Sleep(500 * time.Millisecond)
	s.RabbitProxy.Cut()
	time.Sleep(2 * time.Second)
	s.RabbitProxy.Restore()
	wg.Wait()
	close(placed)

	orderIDs := map[string]bool{}
	for id := range placed {
		orderIDs[id] = true
	}
	if len(orderIDs) != shoppers {
		t.Fatalf("%d orders placed, want %d", len(orderIDs), shoppers)
	}
	db := s.Connect(t, "shipping")
	shoptest.Eventually(t, 45*time.Second, func() error {
		var n int
		if err := db.QueryRow(context.Background(), `SELECT count(*) FROM shipments`).Scan(&n); err != nil {
			return err
		}
		if n != shoppers {
			return fmt.Errorf("%d shipments of %d orders", n, shoppers)
		}
		return nil
	})
	rows, err := db.Query(context.Background(), `SELECT order_id::text, count(*) FROM shipments GROUP BY order_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		if !orderIDs[id] || n != 1 {
			t.Errorf("order %s: %d shipments (placed by this run: %v)", id, n, orderIDs[id])
		}
	}
	// Every shipment is visible through the gateway to the order's owner.
	r := clients[0].Do("GET", "/api/orders", nil, nil)
	var list struct{ Orders []struct{ ID string } }
	r.Decode(t, &list)
	if len(list.Orders) != 1 {
		t.Fatalf("shopper 0 has %d orders", len(list.Orders))
	}
	if r := clients[0].Do("GET", "/api/orders/"+list.Orders[0].ID+"/shipment", nil, nil); r.Status != http.StatusOK {
		t.Errorf("shipment of shopper 0's order: %d %s", r.Status, r.Body)
	}
	if r := clients[1].Do("GET", "/api/orders/"+list.Orders[0].ID+"/shipment", nil, nil); r.Status != http.StatusNotFound {
		t.Errorf("another shopper reads shopper 0's shipment: %d %s; want 404", r.Status, r.Body)
	}
}

// A redelivered order.placed is harmless, and a message that cannot be handled ends in
// the dead-letter queue instead of blocking the queue.
func TestOrderPlaced_DuplicateAndPoison(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	product := s.NewProduct(t, 900, 10)
	c := s.NewShopper(t)
	c.AddToCart(product, 2)
	if r := c.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), nil); r.Status != http.StatusCreated {
		t.Fatalf("checkout: %d %s", r.Status, r.Body)
	}
	shipping := s.Connect(t, "shipping")
	count := func() int {
		var n int
		if err := shipping.QueryRow(context.Background(), `SELECT count(*) FROM shipments`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	shoptest.Eventually(t, 15*time.Second, func() error {
		if n := count(); n != 1 {
			return fmt.Errorf("%d shipments", n)
		}
		return nil
	})

	var messageID, payload string
	if err := s.Connect(t, "orders").QueryRow(context.Background(),
		`SELECT message_id::text, payload::text FROM outbox`).Scan(&messageID, &payload); err != nil {
		t.Fatal(err)
	}
	ch := channel(t, s)
	exchange := s.Env["RABBITMQ_EXCHANGE"]
	publish := func(id, body string) {
		err := ch.PublishWithContext(context.Background(), exchange, "order.placed", false, false,
			amqp.Publishing{MessageId: id, ContentType: "application/json", Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
	}
	publish(messageID, payload)
	publish("poison-1", `{"order_id": not json`)
	publish("poison-2", `{"order_id":"not-a-uuid","items":[]}`)

	dlq := s.Env["SHIPPING_QUEUE"] + ".dlq"
	shoptest.Eventually(t, 15*time.Second, func() error {
		n, err := rabbit.QueueDepth(context.Background(), s.RabbitURL, dlq)
		if err != nil {
			return err
		}
		if n != 2 {
			return fmt.Errorf("%d messages in %s, want the 2 poison ones", n, dlq)
		}
		return nil
	})
	s.Flush(t)
	if n := count(); n != 1 {
		t.Errorf("%d shipments after a duplicate delivery, want 1", n)
	}
}

// A message whose handling keeps failing is retried a bounded number of times, then
// dead-lettered: here the shipping database refuses the insert.
func TestOrderPlaced_HandlerKeepsFailing_DeadLetteredAfterRetries(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{Env: map[string]string{"SHIPPING_MAX_ATTEMPTS": "3"}})
	shipping := s.Connect(t, "shipping")
	// Make every insert fail, as a broken database would.
	if _, err := shipping.Exec(context.Background(), `ALTER TABLE shipments ADD CONSTRAINT refuse_all CHECK (units < 0)`); err != nil {
		t.Fatal(err)
	}
	ch := channel(t, s)
	body := `{"order_id":"0199a0b0-0000-7000-8000-000000000001","user_id":"0199a0b0-0000-7000-8000-000000000002",
		"items":[{"product_id":"SKU-00001","quantity":1,"price_cents":100}],"total_cents":100,"currency":"USD",
		"shipping_address":{"name":"A","line1":"B","city":"C","postal_code":"D","country":"US"}}`
	if err := ch.PublishWithContext(context.Background(), s.Env["RABBITMQ_EXCHANGE"], "order.placed", false, false,
		amqp.Publishing{MessageId: "retry-me", Body: []byte(body)}); err != nil {
		t.Fatal(err)
	}
	dlq := s.Env["SHIPPING_QUEUE"] + ".dlq"
	shoptest.Eventually(t, 20*time.Second, func() error {
		n, err := rabbit.QueueDepth(context.Background(), s.RabbitURL, dlq)
		if err != nil || n != 1 {
			return fmt.Errorf("%d in %s (%v)", n, dlq, err)
		}
		return nil
	})
	s.Flush(t)
	attempts := 0
	for _, span := range s.Spans.GetSpans() {
		if span.Name == "process order.placed" {
			attempts++
		}
	}
	if attempts != 3 {
		t.Errorf("handled %d times before dead-lettering, want SHIPPING_MAX_ATTEMPTS=3", attempts)
	}
}

// channel opens a channel on the real broker, as any other publisher would.
func channel(t *testing.T, s *shoptest.Shop) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(s.RabbitURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}
