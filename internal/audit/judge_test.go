package audit

import (
	"context"
	"slices"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// The rules that keep a moment's in-flight states, and the moments between the
// reads of four databases, from counting as discrepancies; judge reads nothing, so
// each case is a snapshot made by hand.
func TestJudge_InFlightAndLateStatesAreNotDiscrepancies(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	young, old := now.Add(-time.Minute), now.Add(-time.Hour)
	const a, b, c, d, e, f, g = "0199a0b0-0000-7000-8000-00000000000a", "0199a0b0-0000-7000-8000-00000000000b",
		"0199a0b0-0000-7000-8000-00000000000c", "0199a0b0-0000-7000-8000-00000000000d", "0199a0b0-0000-7000-8000-00000000000e",
		"0199a0b0-0000-7000-8000-00000000000f", "0199a0b0-0000-7000-8000-000000000010"
	items := map[string]int{"SKU-1": 1}
	s := &snapshot{
		ordersNow: now, inventoryNow: now,
		orders: map[string]*order{
			// placed a minute ago, its shipment still on the way
			a: {status: "placed", paymentID: "ch-a", totalCents: 100, updatedAt: young, items: items},
			// pending in the orders snapshot; placed and shipped before shipping was read
			b: {status: "pending", createdAt: young, items: items},
			// failed, its refund owed and retried, its hold expiring on its own
			c: {status: "failed", refundDue: true, updatedAt: old},
			// pending an hour: the sweeper should have settled it
			d: {status: "pending", createdAt: old},
			// placed an hour ago and never shipped
			e: {status: "placed", paymentID: "ch-e", totalCents: 100, updatedAt: old, items: items},
			// made after the orders snapshot; its charge was read
			f: {status: "pending", createdAt: now, late: true},
		},
		charges: map[string]charge{
			"order-" + a: {id: "ch-a", status: "succeeded", amountCents: 100},
			"order-" + b: {id: "ch-b", status: "succeeded", amountCents: 100},
			"order-" + c: {id: "ch-c", status: "succeeded", amountCents: 100},
			"order-" + e: {id: "ch-e", status: "succeeded", amountCents: 100},
			"order-" + f: {id: "ch-f", status: "succeeded", amountCents: 100},
			"order-" + g: {id: "ch-g", status: "succeeded", amountCents: 100}, // no order, ever
		},
		reservations: map[string]*reservation{
			a: {status: "committed", items: items},
			b: {status: "committed", items: items},
			c: {status: "reserved", expiresAt: now.Add(time.Minute)},
			e: {status: "committed", items: items},
			f: {status: "reserved", expiresAt: now.Add(time.Minute)},
		},
		shipments: map[string]int{b: 1},
		later:     map[string]string{b: "placed", f: "pending"},
		stock:     map[string]productStock{"SKU-1": {stocked: 10, available: 5, held: 1, committed: 4}},
	}
	r := judge(s, Options{Grace: 15 * time.Minute})
	got := map[string][]string{}
	inFlight := map[string]int{}
	for _, ch := range r.Checks {
		for _, dd := range ch.Discrepancies {
			got[ch.Name] = append(got[ch.Name], dd.Subject)
		}
		inFlight[ch.Name] = ch.InFlight
	}
	want := map[string][]string{
		PendingSettled:    {d},
		PlacedShippedOnce: {e},
		ChargesHaveOrders: {"ch-g"},
	}
	for _, name := range CheckNames() {
		if !slices.Equal(got[name], want[name]) {
			t.Errorf("%s found %v, want %v", name, got[name], want[name])
		}
	}
	for name, n := range map[string]int{PlacedShippedOnce: 1, PendingSettled: 1, FailedRefunded: 1} {
		if inFlight[name] != n {
			t.Errorf("%s: %d in flight, want %d", name, inFlight[name], n)
		}
	}
	if r.Discrepancies() != 3 {
		t.Errorf("%d discrepancies in all, want 3", r.Discrepancies())
	}
}

// shop.audit.discrepancies has a point for every check after every audit, zero
// included, so that an alert sees a discrepancy resolved; only the check names it.
func TestMetrics_EveryCheckReportedEachAudit(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	m := NewMetrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	r := judge(&snapshot{ordersNow: time.Now(), inventoryNow: time.Now(),
		stock: map[string]productStock{"SKU-1": {stocked: 10, available: 9}}}, Options{})
	m.Record(context.Background(), r)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	runs := 0
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			switch data := mt.Data.(type) {
			case metricdata.Gauge[int64]:
				if mt.Name != "shop.audit.discrepancies" {
					continue
				}
				for _, p := range data.DataPoints {
					if p.Attributes.Len() != 1 {
						t.Errorf("a point with attributes %v, want only check", p.Attributes.ToSlice())
					}
					check, _ := p.Attributes.Value("check")
					got[check.AsString()] = p.Value
				}
			case metricdata.Sum[int64]:
				if mt.Name == "shop.audit.runs" {
					runs = len(data.DataPoints)
				}
			}
		}
	}
	for _, name := range CheckNames() {
		want := int64(0)
		if name == StockConserved {
			want = 1
		}
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("shop.audit.discrepancies{check=%q} = %d (reported %v), want %d", name, v, ok, want)
		}
	}
	if runs != 1 {
		t.Errorf("shop.audit.runs has %d points, want 1 (outcome discrepancies)", runs)
	}
}
