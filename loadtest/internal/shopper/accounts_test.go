package shopper

import (
	mrand "math/rand/v2"
	"testing"
)

// Asked for a shopper with orders, take leans to the frequent buyers, and never
// lends one without orders while one with orders is idle.
func TestAccounts_TakePrefersFrequentBuyers(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	fill := func(orders func(i int) int) *accounts {
		a := newAccounts(100, "test")
		for i := range 100 {
			a.give(&account{email: "x", orders: orders(i)})
		}
		return a
	}
	sum, n := 0, 2000
	for range n {
		acc, _ := fill(func(i int) int { return 1 + i%10 }).take(r, true)
		sum += acc.orders
	}
	// Drawn uniformly: 5.5 orders on average; the best of four draws: about 8.
	if mean := float64(sum) / float64(n); mean < 7 {
		t.Errorf("mean orders of the accounts taken: %.2f; want the frequent buyers preferred (≥ 7)", mean)
	}
	for range 100 {
		if acc, ok := fill(func(i int) int { return max(0, i-98) }).take(r, true); !ok || acc.orders != 1 {
			t.Fatalf("took %+v, ok %v; want the one account with orders", acc, ok)
		}
	}
	if _, ok := newAccounts(1, "test").take(r, true); ok {
		t.Error("took an account from an empty pool")
	}
}
