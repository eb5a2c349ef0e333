package shipping

import (
	"testing"

	"github.com/otelshop/shop/services/orders"
)

func TestQuoteFor(t *testing.T) {
	order := func(country string, totalCents int64, quantities ...int) orders.OrderPlaced {
		ev := orders.OrderPlaced{TotalCents: totalCents, ShippingAddress: orders.Address{Country: country}}
		for _, q := range quantities {
			ev.Items = append(ev.Items, orders.Item{Quantity: q})
		}
		return ev
	}
	tests := []struct {
		name string
		ev   orders.OrderPlaced
		want quote
	}{
		{"at home, one unit", order("US", 2000, 1), quote{"ground", 499, 1}},
		{"at home, per unit beyond the first", order("US", 2000, 2, 1), quote{"ground", 499 + 2*99, 3}},
		{"at home, free from $150", order("US", 15_000, 3), quote{"ground", 0, 3}},
		{"EU", order("DE", 15_000, 1), quote{"euro-express", 1299, 1}},
		{"EU, two units", order("FR", 900, 2), quote{"euro-express", 1299 + 99, 2}},
		{"elsewhere", order("JP", 900, 1), quote{"world-post", 2499, 1}},
	}
	for _, tt := range tests {
		if got := quoteFor(tt.ev); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
