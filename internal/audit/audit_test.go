package audit_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/otelshop/shop/internal/audit"
	"github.com/otelshop/shop/internal/service"
	"github.com/otelshop/shop/internal/shoptest"
)

// checkout places a checkout of quantity of product by a new shopper with card and
// returns the order's id and the HTTP status.
func checkout(t *testing.T, s *shoptest.Shop, product string, quantity int, card string) (string, int) {
	t.Helper()
	c := s.NewShopper(t)
	c.AddToCart(product, quantity)
	r := c.Do("POST", "/api/checkout", shoptest.CheckoutBody(card), nil)
	var list struct{ Orders []struct{ ID string } }
	c.Do("GET", "/api/orders", nil, nil).Decode(t, &list)
	if len(list.Orders) != 1 {
		t.Fatalf("checkout answered %d %s and left %d orders", r.Status, r.Body, len(list.Orders))
	}
	return list.Orders[0].ID, r.Status
}

func open(t *testing.T, s *shoptest.Shop) *audit.Databases {
	t.Helper()
	dbs, err := audit.Open(context.Background(), service.Stores{PostgresURL: s.PostgresURL, DatabasePrefix: s.Prefix + "_"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dbs.Close)
	return dbs
}

// found maps each check to the subjects of its discrepancies.
func found(r audit.Report) map[string][]string {
	out := map[string][]string{}
	for _, c := range r.Checks {
		for _, d := range c.Discrepancies {
			out[c.Name] = append(out[c.Name], d.Subject)
		}
	}
	return out
}

func check(r audit.Report, name string) audit.Check {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return audit.Check{}
}

// The audit of a shop that ran real checkouts (placed, declined, out of stock) finds
// nothing; then every kind of discrepancy is planted in the services' databases, one
// or two of each, and the audit names exactly those, under the check that owns them.
func TestAudit_CleanShop_ThenEveryPlantedDiscrepancyFound(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{Env: map[string]string{"PENDING_ORDER_TIMEOUT": "1h", "RESERVATION_TTL": "1h"}})
	product := s.NewProduct(t, 1000, 6)
	var placed []string
	for range 3 {
		id, status := checkout(t, s, product, 1, "")
		if status != http.StatusCreated {
			t.Fatalf("checkout: %d", status)
		}
		placed = append(placed, id)
	}
	declined, status := checkout(t, s, product, 1, "4000000000000002")
	if status != http.StatusPaymentRequired {
		t.Fatalf("declined checkout: %d", status)
	}
	if _, status := checkout(t, s, product, 50, ""); status != http.StatusConflict {
		t.Fatalf("checkout beyond the stock: %d", status)
	}
	ctx := context.Background()
	shipping, orders, payments, inventory := s.Connect(t, "shipping"), s.Connect(t, "orders"), s.Connect(t, "payments"), s.Connect(t, "inventory")
	shoptest.Eventually(t, 20*time.Second, func() error {
		var n int
		if err := shipping.QueryRow(ctx, `SELECT count(*) FROM shipments`).Scan(&n); err != nil || n != len(placed) {
			return fmt.Errorf("%d shipments (%v), want %d", n, err, len(placed))
		}
		return nil
	})

	dbs := open(t, s)
	r, err := audit.Run(ctx, dbs, audit.Options{Grace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if n := r.Discrepancies(); n != 0 {
		t.Fatalf("the audit of a clean shop found %d discrepancies: %v", n, found(r))
	}
	for name, want := range map[string]int{audit.PlacedChargedOnce: 3, audit.PlacedShippedOnce: 3, audit.FailedRefunded: 2,
		audit.ShipmentsHavePlaced: 3, audit.ChargesHaveOrders: 4} {
		if got := check(r, name).Checked; got != want {
			t.Errorf("%s checked %d, want %d", name, got, want)
		}
	}
	if got := check(r, audit.StockConserved).Checked; got < 100 {
		t.Errorf("stock conserved checked for %d products, want every product (the demonstration catalogue and the test's)", got)
	}

	// A shipment lost only just now is in flight: within the grace, not a discrepancy.
	mustExec := func(label string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("plant %s: %v", label, err)
		}
	}
	_, err = shipping.Exec(ctx, `DELETE FROM shipments WHERE order_id = $1`, placed[0])
	mustExec("lost shipment", err)
	r, err = audit.Run(ctx, dbs, audit.Options{Grace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if c := check(r, audit.PlacedShippedOnce); len(c.Discrepancies) != 0 || c.InFlight != 1 {
		t.Errorf("a placed order without its shipment within the grace: %d in flight, %v; want 1 in flight and no discrepancy",
			c.InFlight, c.Discrepancies)
	}

	// The rest of the plants.
	ghost, _ := uuid.NewV7()
	stale, _ := uuid.NewV7()
	_, err = payments.Exec(ctx, `INSERT INTO refunds (id, charge_id, amount_cents)
		SELECT gen_random_uuid(), id, amount_cents FROM charges WHERE idempotency_key = $1`, "order-"+placed[1])
	mustExec("refund of a placed order", err)
	_, err = inventory.Exec(ctx, `WITH r AS (UPDATE reservations SET status = 'released' WHERE order_id = $1 RETURNING order_id)
		UPDATE stock s SET available = s.available + ri.quantity FROM reservation_items ri, r
		WHERE ri.order_id = r.order_id AND s.product_id = ri.product_id`, placed[2])
	mustExec("placed order's stock released", err)
	_, err = payments.Exec(ctx, `UPDATE charges SET status = 'succeeded', decline_reason = '' WHERE idempotency_key = $1`, "order-"+declined)
	mustExec("failed order charged", err)
	_, err = inventory.Exec(ctx, `WITH r AS (UPDATE reservations SET status = 'committed' WHERE order_id = $1 RETURNING order_id)
		UPDATE stock s SET available = s.available - ri.quantity FROM reservation_items ri, r
		WHERE ri.order_id = r.order_id AND s.product_id = ri.product_id`, declined)
	mustExec("failed order's stock committed", err)
	_, err = shipping.Exec(ctx, `INSERT INTO shipments (id, order_id, user_id, message_id, status, carrier, quote_cents, country, units)
		VALUES (gen_random_uuid(), $1, gen_random_uuid(), 'planted', 'created', 'dhl', 500, 'DE', 1)`, declined)
	mustExec("failed order shipped", err)
	_, err = payments.Exec(ctx, `INSERT INTO charges (id, idempotency_key, amount_cents, currency, status, card_brand, card_last4)
		VALUES (gen_random_uuid(), $1, 700, 'USD', 'succeeded', 'visa', '4242'), (gen_random_uuid(), 'manual-refund-test', 700, 'USD', 'succeeded', 'visa', '4242')`,
		"order-"+ghost.String())
	mustExec("charges without orders", err)
	_, err = inventory.Exec(ctx, `INSERT INTO reservations (order_id, status, expires_at) VALUES ($1, 'reserved', now() + interval '1 hour')`, ghost.String())
	mustExec("hold without an order", err)
	_, err = orders.Exec(ctx, `INSERT INTO orders (id, user_id, status, total_cents, currency, shipping_address, created_at)
		VALUES ($1, gen_random_uuid(), 'pending', 500, 'USD', '{}', now() - interval '2 hours')`, stale.String())
	mustExec("stuck checkout", err)
	_, err = inventory.Exec(ctx, `INSERT INTO reservations (order_id, status, expires_at) VALUES ($1, 'reserved', now() - interval '1 hour')`, stale.String())
	mustExec("hold past its expiry", err)
	_, err = inventory.Exec(ctx, `INSERT INTO stock_adjustments (product_id, delta, reason) VALUES ('SKU-00007', 5, 'set')`)
	mustExec("stock from nowhere", err)

	r, err = audit.Run(ctx, dbs, audit.Options{Grace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		audit.PlacedChargedOnce:    {placed[1]},
		audit.PlacedStockCommitted: {placed[2]},
		audit.FailedRefunded:       {declined},
		audit.FailedStockReturned:  {declined},
		audit.PendingSettled:       {stale.String()},
		audit.ChargesHaveOrders:    nil, // charge ids: counted below
		audit.HoldsHaveOrders:      {ghost.String()},
		audit.ShipmentsHavePlaced:  {declined},
		audit.HoldsExpire:          {stale.String()},
		audit.StockConserved:       {"SKU-00007"},
	}
	got := found(r)
	for _, name := range audit.CheckNames() {
		if name == audit.ChargesHaveOrders {
			if n := len(got[name]); n != 2 {
				t.Errorf("%s: %d discrepancies %v, want the 2 charges planted", name, n, got[name])
			}
			continue
		}
		if !slices.Equal(got[name], want[name]) {
			t.Errorf("%s found %v, want %v", name, got[name], want[name])
		}
	}
	// Past its grace, the lost shipment counts too.
	r, err = audit.Run(ctx, dbs, audit.Options{Grace: 0})
	if err != nil {
		t.Fatal(err)
	}
	if got := found(r)[audit.PlacedShippedOnce]; !slices.Equal(got, []string{placed[0]}) {
		t.Errorf("with no grace, %s found %v, want the order whose shipment was lost (%s)", audit.PlacedShippedOnce, got, placed[0])
	}

	var out strings.Builder
	if err := r.Print(&out, s.Prefix+"_*"); err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	for _, line := range []string{"FAIL  placed_charged_once", placed[1] + ": placed, but its charge",
		fmt.Sprintf("11 checks, %d discrepancies", r.Discrepancies())} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("the printed report lacks %q:\n%s", line, out.String())
		}
	}
}
