package cart

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/ids"
)

// Whatever the body, an item to add decodes without panic, and what is accepted
// names a product id and a quantity within the cart's bounds.
func FuzzAddRequest(f *testing.F) {
	f.Add([]byte(`{"product_id":"SKU-00001","quantity":1}`))
	f.Add([]byte(`{"product_id":"../x","quantity":1e99}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := httpx.Decode[addRequest](httptest.NewRequest("POST", "/", bytes.NewReader(body)))
		if err != nil {
			return
		}
		if !ids.Product(req.ProductID) || req.Quantity < 1 || req.Quantity > MaxQuantity {
			t.Fatalf("accepted %q as %+v", body, req)
		}
	})
}
