package cart_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/otelshop/shop/internal/shoptest"
	"github.com/otelshop/shop/services/cart"
)

type cartBody struct {
	Items []cart.Item `json:"items"`
}

func getCart(t *testing.T, c *shoptest.Client) []cart.Item {
	t.Helper()
	var body cartBody
	r := c.Do("GET", "/api/cart", nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("get cart: %d %s", r.Status, r.Body)
	}
	r.Decode(t, &body)
	return body.Items
}

// The bounds are enforced inside Redis (Lua), so racing requests cannot overshoot
// them: of 60 distinct products added at once exactly MaxItems land, and of 20
// additions of 10 units each exactly as many land as fit under MaxQuantity.
func TestCart_BoundsHoldUnderConcurrency(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})

	full := s.NewShopper(t)
	counts := shoptest.Concurrently(cart.MaxItems+10, func(i int) shoptest.Response {
		return full.Do("POST", "/api/cart/items", map[string]any{"product_id": fmt.Sprintf("SKU-%05d", i+1), "quantity": 1}, nil)
	})
	if counts[http.StatusOK] != cart.MaxItems || counts[http.StatusConflict] != 10 {
		t.Errorf("%d distinct products at once: answers %v, want %d × 200 and 10 × 409", cart.MaxItems+10, counts, cart.MaxItems)
	}
	items := getCart(t, full)
	if len(items) != cart.MaxItems {
		t.Fatalf("cart holds %d products, want %d", len(items), cart.MaxItems)
	}
	r := full.Do("POST", "/api/cart/items", map[string]any{"product_id": "SKU-00100", "quantity": 1}, nil)
	if r.Status != http.StatusConflict || r.Error.Code != "cart_full" {
		t.Errorf("adding to a full cart: %d %s, want 409 cart_full", r.Status, r.Body)
	}
	// More of a product already in a full cart is still fine (which 50 of the 60
	// landed is up to the race).
	if r := full.Do("POST", "/api/cart/items", map[string]any{"product_id": items[0].ProductID, "quantity": 2}, nil); r.Status != http.StatusOK {
		t.Errorf("more of a product in a full cart: %d %s", r.Status, r.Body)
	}

	units := s.NewShopper(t)
	counts = shoptest.Concurrently(20, func(int) shoptest.Response {
		return units.Do("POST", "/api/cart/items", map[string]any{"product_id": "SKU-00007", "quantity": 10}, nil)
	})
	fit := cart.MaxQuantity / 10
	if counts[http.StatusOK] != fit || counts[http.StatusBadRequest] != 20-fit {
		t.Errorf("20 × 10 units at once: answers %v, want %d × 200 and %d × 400", counts, fit, 20-fit)
	}
	if items := getCart(t, units); len(items) != 1 || items[0].Quantity != fit*10 {
		t.Errorf("cart %+v, want SKU-00007 × %d", items, fit*10)
	}
}

// Change, remove and clear act on the caller's own cart only, and answer 404 for
// what is not in it.
func TestCart_ChangeRemoveClear(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	a, b := s.NewShopper(t), s.NewShopper(t)
	a.AddToCart("SKU-00003", 1)
	a.AddToCart("SKU-00004", 2)
	b.AddToCart("SKU-00003", 5)

	if r := a.Do("PUT", "/api/cart/items/SKU-00003", map[string]int{"quantity": 7}, nil); r.Status != http.StatusOK {
		t.Fatalf("change quantity: %d %s", r.Status, r.Body)
	}
	if r := a.Do("PUT", "/api/cart/items/SKU-00003", map[string]int{"quantity": cart.MaxQuantity + 1}, nil); r.Status != http.StatusBadRequest || r.Error.Field != "quantity" {
		t.Errorf("quantity over the bound: %d %s, want 400 on quantity", r.Status, r.Body)
	}
	if r := a.Do("DELETE", "/api/cart/items/SKU-00004", nil, nil); r.Status != http.StatusOK {
		t.Fatalf("remove: %d %s", r.Status, r.Body)
	}
	if r := a.Do("DELETE", "/api/cart/items/SKU-00004", nil, nil); r.Status != http.StatusNotFound {
		t.Errorf("removing what is not in the cart: %d %s, want 404", r.Status, r.Body)
	}
	if items := getCart(t, a); len(items) != 1 || items[0] != (cart.Item{ProductID: "SKU-00003", Quantity: 7}) {
		t.Errorf("a's cart %+v, want SKU-00003 × 7", items)
	}
	if items := getCart(t, b); len(items) != 1 || items[0] != (cart.Item{ProductID: "SKU-00003", Quantity: 5}) {
		t.Errorf("b's cart %+v changed with a's, want SKU-00003 × 5", items)
	}

	if r := a.Do("DELETE", "/api/cart", nil, nil); r.Status != http.StatusNoContent {
		t.Fatalf("clear: %d %s", r.Status, r.Body)
	}
	if items := getCart(t, a); len(items) != 0 {
		t.Errorf("cart after clear: %+v", items)
	}
	if items := getCart(t, b); len(items) != 1 {
		t.Errorf("b's cart after a cleared theirs: %+v", items)
	}
}
