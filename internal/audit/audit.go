// Package audit is the ledger audit behind `shop audit`: it reads the services' own
// databases (orders, payments, inventory, shipping), each in one read-only snapshot,
// and checks money, stock and shipping against each other. Every placed order is
// charged once, its total, not refunded, its stock committed and shipped once;
// every failed order's charge is refunded or marked refund_due and its stock back
// or marked release_due; no charge, hold or shipment is without its order; and each
// product's stock is conserved: stocked - available = held + committed.
//
// Only settled states are judged. A checkout still running is pending, a placed
// order waits a moment for its shipment, a hold waits for its expiry: states
// younger than Options.Grace are counted as in flight, not as discrepancies. The
// databases are read in the order their writes happen (orders first, then
// payments, inventory and shipping), and whatever a later read finds of an order the
// first read did not know is looked up again, so a checkout that lands between the
// reads is never mistaken for a discrepancy.
package audit

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Options say what the audit judges.
type Options struct {
	// Grace is how long a state may be in flight: a pending order, a placed order
	// without its shipment, a hold past its expiry that expiry has not released.
	// Older, each is a discrepancy. It should exceed PENDING_ORDER_TIMEOUT plus a
	// sweep interval (the sweeper's bound on a pending order).
	Grace time.Duration
	// Since, when not zero, limits the audit to orders made since then (and the
	// charges, holds and shipments made since then); stock conservation is always
	// checked whole.
	Since time.Time
}

// Discrepancy is one thing found wrong: what it is about (an order, a charge, a
// product) and what is wrong with it.
type Discrepancy struct {
	Subject string `json:"subject"`
	Detail  string `json:"detail"`
}

// Check is one invariant and what the audit found of it.
type Check struct {
	Name          string        `json:"name"`
	Description   string        `json:"description"`
	Checked       int           `json:"checked"`
	InFlight      int           `json:"in_flight"` // younger than the grace, or marked due: not judged yet
	Discrepancies []Discrepancy `json:"discrepancies"`
}

func (c *Check) fail(subject, format string, args ...any) {
	c.Discrepancies = append(c.Discrepancies, Discrepancy{Subject: subject, Detail: fmt.Sprintf(format, args...)})
}

// Report is one audit.
type Report struct {
	At     time.Time `json:"at"`
	Grace  string    `json:"grace"`
	Checks []Check   `json:"checks"`
}

// Discrepancies counts what every check found wrong.
func (r Report) Discrepancies() int {
	n := 0
	for _, c := range r.Checks {
		n += len(c.Discrepancies)
	}
	return n
}

// The checks, in the order they are reported. Their names are the values of the
// check attribute of shop.audit.discrepancies.
const (
	PlacedChargedOnce    = "placed_charged_once"
	PlacedStockCommitted = "placed_stock_committed"
	PlacedShippedOnce    = "placed_shipped_once"
	FailedRefunded       = "failed_refunded"
	FailedStockReturned  = "failed_stock_returned"
	PendingSettled       = "pending_settled"
	ChargesHaveOrders    = "charges_have_orders"
	HoldsHaveOrders      = "holds_have_orders"
	ShipmentsHavePlaced  = "shipments_have_placed_orders"
	StockConserved       = "stock_conserved"
	HoldsExpire          = "holds_expire"
)

// CheckNames lists every check, in report order.
func CheckNames() []string {
	return []string{PlacedChargedOnce, PlacedStockCommitted, PlacedShippedOnce, FailedRefunded, FailedStockReturned,
		PendingSettled, ChargesHaveOrders, HoldsHaveOrders, ShipmentsHavePlaced, HoldsExpire, StockConserved}
}

var descriptions = map[string]string{
	PlacedChargedOnce:    "every placed order is charged once, its total, and not refunded",
	PlacedStockCommitted: "every placed order's stock is committed: its items, once",
	PlacedShippedOnce:    "every placed order is shipped once",
	FailedRefunded:       "every failed order's charge is refunded, or marked refund_due",
	FailedStockReturned:  "every failed order's stock is back, or marked release_due",
	PendingSettled:       "no checkout stays pending past the grace (the sweeper settles it)",
	ChargesHaveOrders:    "no charge without its order",
	HoldsHaveOrders:      "no hold or sale of stock without its order",
	ShipmentsHavePlaced:  "no shipment but of a placed order",
	HoldsExpire:          "no hold outlives its expiry by more than the grace",
	StockConserved:       "stock is conserved: stocked - available = held + committed",
}

// Run audits the databases once.
func Run(ctx context.Context, dbs *Databases, opts Options) (Report, error) {
	snap, err := read(ctx, dbs, opts)
	if err != nil {
		return Report{}, err
	}
	return judge(snap, opts), nil
}

// judge checks a snapshot; it reads nothing, so every rule is here in one place.
func judge(s *snapshot, opts Options) Report {
	checks := map[string]*Check{}
	for _, name := range CheckNames() {
		checks[name] = &Check{Name: name, Description: descriptions[name], Discrepancies: []Discrepancy{}}
	}
	ordersCutoff := s.ordersNow.Add(-opts.Grace)
	inventoryCutoff := s.inventoryNow.Add(-opts.Grace)

	for _, id := range slices.Sorted(maps.Keys(s.orders)) {
		o := s.orders[id]
		if o.late {
			continue // its state is of a later moment than the others': judged at the next audit
		}
		charge, charged := s.charges[paymentKey(id)]
		hold, held := s.reservations[id]
		shipments := s.shipments[id]
		switch o.status {
		case "placed":
			c := checks[PlacedChargedOnce]
			c.Checked++
			switch {
			case !charged:
				c.fail(id, "placed, but payments has no charge with key %s", paymentKey(id))
			case charge.status != "succeeded":
				c.fail(id, "placed, but its charge %s was %s", charge.id, charge.status)
			case charge.refunded:
				c.fail(id, "placed, but its charge %s is refunded", charge.id)
			case charge.amountCents != o.totalCents:
				c.fail(id, "placed for %d cents, charged %d", o.totalCents, charge.amountCents)
			case charge.id != o.paymentID:
				c.fail(id, "placed with payment %q, but the charge of its key is %s", o.paymentID, charge.id)
			}

			c = checks[PlacedStockCommitted]
			c.Checked++
			switch {
			case !held:
				c.fail(id, "placed, but inventory has no reservation for it")
			case hold.status != "committed":
				c.fail(id, "placed, but its reservation is %s", hold.status)
			case !sameItems(hold.items, o.items):
				c.fail(id, "placed with items %v, but %v are committed", o.items, hold.items)
			}

			c = checks[PlacedShippedOnce]
			c.Checked++
			switch {
			case shipments == 0 && o.updatedAt.After(ordersCutoff):
				c.InFlight++
			case shipments == 0:
				c.fail(id, "placed at %s, but not shipped", o.updatedAt.UTC().Format(time.RFC3339))
			case shipments > 1:
				c.fail(id, "shipped %d times", shipments)
			}

		case "failed":
			c := checks[FailedRefunded]
			c.Checked++
			standing := charged && charge.status == "succeeded" && !charge.refunded
			switch {
			case o.refundDue:
				c.InFlight++ // owed and retried by the sweeper; ShopRefundsOwed alerts when it lasts
			case standing:
				c.fail(id, "failed (%s), but its charge %s stands, not refunded, and no refund is due", o.failureReason, charge.id)
			}

			c = checks[FailedStockReturned]
			c.Checked++
			switch {
			case o.releaseDue:
				c.InFlight++
			case held && hold.status == "committed":
				c.fail(id, "failed (%s), but its stock is committed, and no release is due", o.failureReason)
			case held && hold.status == "reserved" && hold.expiresAt.After(inventoryCutoff):
				c.InFlight++ // the hold expires on its own
			case held && hold.status == "reserved":
				c.fail(id, "failed (%s), but its stock is held since %s past its expiry", o.failureReason, hold.expiresAt.UTC().Format(time.RFC3339))
			}

		case "pending":
			c := checks[PendingSettled]
			c.Checked++
			if o.createdAt.After(ordersCutoff) {
				c.InFlight++
			} else {
				c.fail(id, "pending since %s", o.createdAt.UTC().Format(time.RFC3339))
			}
		}
	}

	c := checks[ChargesHaveOrders]
	for _, key := range slices.Sorted(maps.Keys(s.charges)) {
		charge := s.charges[key]
		c.Checked++
		id, ok := orderOfKey(key)
		if !ok {
			c.fail(charge.id, "charged with key %q, which names no order", key)
		} else if _, ok := s.orders[id]; !ok {
			c.fail(charge.id, "charged for order %s, which does not exist", id)
		}
	}

	c = checks[HoldsHaveOrders]
	for _, id := range slices.Sorted(maps.Keys(s.reservations)) {
		hold := s.reservations[id]
		if hold.status == "released" {
			continue
		}
		c.Checked++
		if _, ok := s.orders[id]; !ok {
			c.fail(id, "stock %s for an order that does not exist", hold.status)
		}
	}

	c = checks[ShipmentsHavePlaced]
	for _, id := range slices.Sorted(maps.Keys(s.shipments)) {
		c.Checked++
		o, ok := s.orders[id]
		if !ok {
			c.fail(id, "shipped, but there is no such order")
			continue
		}
		status := o.status
		if later, ok := s.later[id]; ok {
			status = later // placed since the orders snapshot, and shipped
		}
		if status != "placed" {
			c.fail(id, "shipped, but the order is %s", status)
		}
	}

	c = checks[HoldsExpire]
	for _, id := range slices.Sorted(maps.Keys(s.reservations)) {
		hold := s.reservations[id]
		if hold.status != "reserved" {
			continue
		}
		c.Checked++
		if !hold.expiresAt.After(inventoryCutoff) {
			c.fail(id, "held, expired at %s and not released: is reservation expiry running?", hold.expiresAt.UTC().Format(time.RFC3339))
		}
	}

	c = checks[StockConserved]
	for _, id := range slices.Sorted(maps.Keys(s.stock)) {
		p := s.stock[id]
		c.Checked++
		if p.stocked-p.available != p.held+p.committed {
			c.fail(id, "stocked %d - available %d = %d, but %d are held and %d committed (%+d unaccounted)",
				p.stocked, p.available, p.stocked-p.available, p.held, p.committed, p.stocked-p.available-p.held-p.committed)
		}
	}

	r := Report{At: s.ordersNow.UTC(), Grace: opts.Grace.String()}
	for _, name := range CheckNames() {
		r.Checks = append(r.Checks, *checks[name])
	}
	return r
}

func paymentKey(orderID string) string { return "order-" + orderID }

func sameItems(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
