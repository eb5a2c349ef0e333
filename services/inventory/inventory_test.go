package inventory_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/otelshop/shop/internal/shoptest"
	"github.com/otelshop/shop/services/inventory"
)

// Invariant 4: a hold whose order never completes (its orders process died after
// Reserve) is released by expiry, and the late Commit is refused.
func TestReservation_NeverCommitted_ReleasedByExpiry(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{Env: map[string]string{"RESERVATION_TTL": "1s"}})
	product := s.NewProduct(t, 500, 10)
	inv := s.Inventory(t)
	ctx := context.Background()
	if err := inv.Reserve(ctx, "order-abandoned-1", []inventory.Item{{ProductID: product, Quantity: 4}}); err != nil {
		t.Fatal(err)
	}
	if n := s.Stock(t, product); n != 6 {
		t.Fatalf("stock %d after reserving 4 of 10, want 6", n)
	}
	shoptest.Eventually(t, 10*time.Second, func() error {
		if n := s.Stock(t, product); n != 10 {
			return fmt.Errorf("stock %d, want 10 once the hold expired", n)
		}
		return nil
	})
	if err := inv.Commit(ctx, "order-abandoned-1"); !errors.Is(err, inventory.ErrNotHeld) {
		t.Errorf("commit after expiry: %v, want ErrNotHeld", err)
	}
	// The expiry ran in a span of its own.
	s.Flush(t)
	found := false
	for _, span := range s.Spans.GetSpans() {
		if span.Name == "reservation expire" {
			found = true
		}
	}
	if !found {
		t.Error("no 'reservation expire' span")
	}
}

// A committed hold is a sale: expiry leaves it alone.
func TestReservation_Committed_NotExpired(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{Env: map[string]string{"RESERVATION_TTL": "1s"}})
	product := s.NewProduct(t, 500, 10)
	inv := s.Inventory(t)
	ctx := context.Background()
	if err := inv.Reserve(ctx, "order-sold-1", []inventory.Item{{ProductID: product, Quantity: 3}}); err != nil {
		t.Fatal(err)
	}
	if err := inv.Commit(ctx, "order-sold-1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if n := s.Stock(t, product); n != 7 {
		t.Errorf("stock %d two TTLs after a commit, want 7", n)
	}
}

// Every call is idempotent by order id.
func TestReservation_Idempotent(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	product := s.NewProduct(t, 500, 10)
	inv := s.Inventory(t)
	ctx := context.Background()
	items := []inventory.Item{{ProductID: product, Quantity: 2}}
	for range 3 {
		if err := inv.Reserve(ctx, "order-idem-1", items); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Stock(t, product); n != 8 {
		t.Errorf("stock %d after reserving the same order 3 times, want 8", n)
	}
	for range 2 {
		if err := inv.Commit(ctx, "order-idem-1"); err != nil {
			t.Fatal(err)
		}
	}
	// Committed stock is sold: Release refuses it; Restock (an order never placed)
	// returns it, once however often it is asked.
	if err := inv.Release(ctx, "order-idem-1", "refunded"); !errors.Is(err, inventory.ErrSold) {
		t.Errorf("release of a committed reservation: %v, want ErrSold", err)
	}
	if n := s.Stock(t, product); n != 8 {
		t.Errorf("stock %d after a refused release, want 8", n)
	}
	for range 2 {
		if err := inv.Restock(ctx, "order-idem-1", "abandoned"); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Stock(t, product); n != 10 {
		t.Errorf("stock %d after restocking twice, want 10", n)
	}
	// A release that overtakes its reserve wins: the late reserve holds nothing.
	if err := inv.Release(ctx, "order-idem-2", "payment_unavailable"); err != nil {
		t.Fatal(err)
	}
	if err := inv.Reserve(ctx, "order-idem-2", items); !errors.Is(err, inventory.ErrNotHeld) {
		t.Errorf("reserve after release: %v, want ErrNotHeld", err)
	}
	if n := s.Stock(t, product); n != 10 {
		t.Errorf("stock %d after a late reserve, want 10", n)
	}
	// All or nothing: one short item reserves none.
	other := s.NewProduct(t, 500, 1)
	err := inv.Reserve(ctx, "order-idem-3", []inventory.Item{{ProductID: product, Quantity: 1}, {ProductID: other, Quantity: 2}})
	if !errors.Is(err, inventory.ErrInsufficientStock) {
		t.Errorf("reserve beyond stock: %v, want ErrInsufficientStock", err)
	}
	if n := s.Stock(t, product); n != 10 {
		t.Errorf("stock %d after a refused reservation, want 10", n)
	}
}

// A Commit that arrives after the hold's expiry, before the expiry loop got to it, is
// refused and returns the stock itself.
func TestReservation_CommitAfterExpiry_ReleasesAtOnce(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{Env: map[string]string{
		"RESERVATION_TTL": "500ms", "RESERVATION_EXPIRY_INTERVAL": "1h"}})
	product := s.NewProduct(t, 500, 10)
	inv := s.Inventory(t)
	ctx := context.Background()
	if err := inv.Reserve(ctx, "order-late-1", []inventory.Item{{ProductID: product, Quantity: 6}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	if err := inv.Commit(ctx, "order-late-1"); !errors.Is(err, inventory.ErrNotHeld) {
		t.Fatalf("commit after expiry: %v, want ErrNotHeld", err)
	}
	if n := s.Stock(t, product); n != 10 {
		t.Errorf("stock %d right after the refused commit, want 10", n)
	}
}
