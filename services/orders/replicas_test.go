package orders

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/otelshop/shop/internal/rabbit"
	"github.com/otelshop/shop/internal/storetest"
	"github.com/otelshop/shop/services/payments"
	"github.com/otelshop/shop/telemetry"
)

// The background jobs of orders at two replicas, on one real database: the outbox
// relay, the sweeper's claim of abandoned checkouts and the settlement of what failed
// orders still owe. Each test starts both replicas on the same rows at once, so
// that it fails when the guard that keeps them apart is taken away.

func quietTelemetry(t *testing.T) *telemetry.Telemetry {
	t.Helper()
	tel, err := telemetry.Start(context.Background(), telemetry.Config{ServiceName: "orders-test", Disabled: true, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return tel
}

// Two relays draining one outbox publish every event exactly once between them,
// and both take part (FOR UPDATE SKIP LOCKED gives each a disjoint batch).
func TestRelay_TwoReplicas_PublishEveryEventOnce(t *testing.T) {
	db := storetest.Database(t, migrationFiles)
	rabbitURL := storetest.RabbitURL(t)
	exchange, queue := storetest.Name("relay")+".events", storetest.Name("relay")+".observed"
	conn, err := amqp.Dial(rabbitURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.ExchangeDelete(exchange, false, false) })
	if err := rabbit.DeclareExchange(ch, exchange); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(queue, RoutingKeyOrderPlaced, exchange, false, nil); err != nil {
		t.Fatal(err)
	}

	const events = 4 * relayBatch
	ctx := context.Background()
	for range events {
		id, _ := uuid.NewV7()
		if _, err := db.Exec(ctx, `INSERT INTO outbox (message_id, routing_key, payload) VALUES ($1, $2, '{}')`,
			id.String(), RoutingKeyOrderPlaced); err != nil {
			t.Fatal(err)
		}
	}

	tel := quietTelemetry(t)
	published := make([]int, 2)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range published {
		pub := rabbit.NewPublisher(rabbitURL, exchange, tel)
		defer pub.Close()
		r := newRelay(db, pub, tel)
		wg.Go(func() {
			<-start
			for {
				n, err := r.relayOnce(ctx)
				if err != nil {
					t.Errorf("relay %d: %v", i, err)
					return
				}
				published[i] += n
				if n == 0 {
					return // nothing left that the other relay does not hold
				}
			}
		})
	}
	close(start)
	wg.Wait()

	var left int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	copies := map[string]int{}
	for {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		copies[d.MessageId]++
	}
	duplicated := 0
	for _, n := range copies {
		if n > 1 {
			duplicated++
		}
	}
	if left != 0 || len(copies) != events || duplicated != 0 {
		t.Errorf("%d events left unpublished, %d of %d arrived, %d more than once; want 0, all, none",
			left, len(copies), events, duplicated)
	}
	if published[0] == 0 || published[1] == 0 || published[0]+published[1] != events {
		t.Errorf("the relays published %d and %d of %d: want both to take part and no event twice", published[0], published[1], events)
	}
}

// countingPayments and countingStock count, per order, what the sweeper asked of
// payments and inventory on behalf of either replica.
type countingPayments struct {
	*fakePayments
	mu      sync.Mutex
	lookups map[string]int // by payment key
}

func (c *countingPayments) Void(ctx context.Context, key string) (payments.Charge, error) {
	c.mu.Lock()
	c.lookups[key]++
	c.mu.Unlock()
	time.Sleep(time.Millisecond) // a call over the network: the replicas' passes overlap
	return c.fakePayments.Void(ctx, key)
}

type countingStock struct {
	*fakeStock
	mu       sync.Mutex
	releases map[string]int
}

func (c *countingStock) Release(ctx context.Context, orderID, reason string) error {
	c.mu.Lock()
	c.releases[orderID]++
	c.mu.Unlock()
	return c.fakeStock.Release(ctx, orderID, reason)
}

// replicas are n sagas on one database, sharing payments and inventory stand-ins
// that count what each order cost them.
func replicas(t *testing.T, db *pgxpool.Pool, n int) ([]*saga, *countingPayments, *countingStock) {
	t.Helper()
	pay := &countingPayments{fakePayments: &fakePayments{byKey: map[string]*payments.Charge{}}, lookups: map[string]int{}}
	stock := &countingStock{fakeStock: &fakeStock{holds: map[string]string{}}, releases: map[string]int{}}
	sagas := make([]*saga, n)
	for i := range sagas {
		sagas[i] = newSaga(sagaDeps{inventory: stock, payments: pay, store: store{db}}, quietTelemetry(t))
	}
	return sagas, pay, stock
}

// abandoned stores orders as a checkout leaves them when its process dies after the
// charge: pending, created before cutoff, with a hold and a charge standing.
func abandoned(t *testing.T, db *pgxpool.Pool, pay *countingPayments, stock *countingStock, n int, status string) []string {
	t.Helper()
	ids := make([]string, n)
	addr, _ := json.Marshal(Address{Name: "A", Line1: "B", City: "C", PostalCode: "D", Country: "DE"})
	for i := range ids {
		id, _ := uuid.NewV7()
		ids[i] = id.String()
		if _, err := db.Exec(context.Background(), `INSERT INTO orders (id, user_id, status, total_cents, currency, shipping_address, created_at)
			VALUES ($1, $2, $3, 1000, 'USD', $4, now() - interval '1 hour')`, ids[i], id.String(), status, addr); err != nil {
			t.Fatal(err)
		}
		key := paymentKey(ids[i])
		pay.byKey[key] = &payments.Charge{ID: "charge-" + key, IdempotencyKey: key, AmountCents: 1000, Status: payments.ChargeSucceeded}
		stock.holds[ids[i]] = "reserved"
	}
	return ids
}

// Two sweepers over the same abandoned checkouts: each checkout is claimed by one
// of them, so its refund is looked up and its stock released once, and nothing is
// left owed.
func TestSweeper_TwoReplicas_EachAbandonedCheckoutClaimedOnce(t *testing.T) {
	db := storetest.Database(t, migrationFiles)
	sagas, pay, stock := replicas(t, db, 2)
	ids := abandoned(t, db, pay, stock, 40, StatusPending)
	claimed := make([]int, len(sagas))
	var fns []func()
	for i, s := range sagas {
		fns = append(fns, func() {
			n, err := s.sweepPending(context.Background(), time.Minute)
			if err != nil {
				t.Errorf("sweeper %d: %v", i, err)
			}
			claimed[i] = n
		})
	}
	storetest.InParallel(fns...)

	if claimed[0]+claimed[1] != len(ids) {
		t.Errorf("the sweepers claimed %d and %d of %d abandoned checkouts; want each claimed once", claimed[0], claimed[1], len(ids))
	}
	for _, id := range ids {
		if n := pay.lookups[paymentKey(id)]; n != 1 {
			t.Errorf("order %s: charge looked up %d times for its refund, want once", id, n)
		}
		if n := stock.releases[id]; n != 1 {
			t.Errorf("order %s: stock released %d times, want once", id, n)
		}
		if pay.standing(id) || stock.hold(id) != "released" {
			t.Errorf("order %s: charge standing %v, hold %s; want refunded and released", id, pay.standing(id), stock.hold(id))
		}
	}
	var owed int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM orders
		WHERE status <> 'failed' OR failure_reason <> 'abandoned' OR refund_due OR release_due OR settling_until IS NOT NULL`).Scan(&owed); err != nil {
		t.Fatal(err)
	}
	if owed != 0 {
		t.Errorf("%d orders not failed/abandoned, or still owing or leased, after the sweep", owed)
	}
}

// Two replicas settling the same failed orders (refunds and releases due) take one
// claimant per order; an order leased by a replica that died is left alone until its
// lease expires, then taken over.
func TestSettlement_TwoReplicas_OneClaimantPerOrder_LeasesExpire(t *testing.T) {
	db := storetest.Database(t, migrationFiles)
	sagas, pay, stock := replicas(t, db, 2)
	ids := abandoned(t, db, pay, stock, 40, StatusFailed)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `UPDATE orders SET failure_reason = 'payment_unavailable', refund_due = true, release_due = true`); err != nil {
		t.Fatal(err)
	}
	// Two orders were claimed by a replica that died: one lease still runs, one has expired.
	held, expired := ids[0], ids[1]
	if _, err := db.Exec(ctx, `UPDATE orders SET settling_until = now() + interval '1 hour' WHERE id = $1`, held); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `UPDATE orders SET settling_until = now() - interval '1 second' WHERE id = $1`, expired); err != nil {
		t.Fatal(err)
	}
	settled := make([]int, len(sagas))
	var fns []func()
	for i, s := range sagas {
		fns = append(fns, func() {
			n, err := s.settleDue(ctx)
			if err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
			settled[i] = n
		})
	}
	storetest.InParallel(fns...)

	if settled[0]+settled[1] != len(ids)-1 {
		t.Errorf("the replicas settled %d and %d orders; want %d between them (all but the one leased elsewhere)",
			settled[0], settled[1], len(ids)-1)
	}
	for _, id := range ids[1:] {
		if n, m := pay.lookups[paymentKey(id)], stock.releases[id]; n != 1 || m != 1 {
			t.Errorf("order %s: refund looked up %d times, stock released %d times; want once each", id, n, m)
		}
	}
	if pay.lookups[paymentKey(held)] != 0 || !pay.standing(held) {
		t.Errorf("the order leased by another replica was settled under its lease")
	}
	var owed []string
	rows, err := db.Query(ctx, `SELECT id::text FROM orders WHERE refund_due OR release_due`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		owed = append(owed, id)
	}
	if len(owed) != 1 || owed[0] != held {
		t.Errorf("still owed after the pass: %v; want only %s, under its lease", owed, held)
	}
}

// A release inventory does not confirm is owed, not forgotten: the order is marked
// release_due and the next settlement returns the stock.
func TestSettlement_ReleaseRefused_RetriedUntilConfirmed(t *testing.T) {
	db := storetest.Database(t, migrationFiles)
	sagas, pay, stock := replicas(t, db, 1)
	ids := abandoned(t, db, pay, stock, 1, StatusPending)
	stock.holds[ids[0]] = "committed" // the saga died after the commit: Restock returns it
	stock.releaseErr = errGRPCDown
	s, ctx := sagas[0], context.Background()
	if n, err := s.sweepPending(ctx, time.Minute); err != nil || n != 1 {
		t.Fatalf("sweep: %d claimed, %v", n, err)
	}
	var releaseDue, refundDue bool
	if err := db.QueryRow(ctx, `SELECT release_due, refund_due FROM orders WHERE id = $1`, ids[0]).Scan(&releaseDue, &refundDue); err != nil {
		t.Fatal(err)
	}
	if !releaseDue || refundDue {
		t.Fatalf("release refused: release due %v, refund due %v; want the release owed and the refund done", releaseDue, refundDue)
	}
	stock.releaseErr = nil
	if n, err := s.settleDue(ctx); err != nil || n != 1 {
		t.Fatalf("settlement: %d settled, %v", n, err)
	}
	if err := db.QueryRow(ctx, `SELECT release_due FROM orders WHERE id = $1`, ids[0]).Scan(&releaseDue); err != nil {
		t.Fatal(err)
	}
	if releaseDue || stock.hold(ids[0]) != "released" {
		t.Errorf("after the retry: release due %v, hold %s; want released", releaseDue, stock.hold(ids[0]))
	}
}
