package catalog_test

import (
	"context"
	"testing"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/shoptest"
)

// A changed product is served changed at once: the update drops the cached product and
// the cached listings that hold it.
func TestCatalog_UpdateInvalidatesCache(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	anon := s.Anonymous(t)
	id := s.NewProduct(t, 1000, 1)
	type product struct {
		PriceCents int64 `json:"price_cents"`
	}
	var p product
	var page struct{ Products []product }
	for range 2 { // the second read is served from the cache
		anon.Do("GET", "/api/products/"+id, nil, nil).Decode(t, &p)
		anon.Do("GET", "/api/products?ids="+id, nil, nil).Decode(t, &page)
	}
	if p.PriceCents != 1000 || len(page.Products) != 1 || page.Products[0].PriceCents != 1000 {
		t.Fatalf("before the change: %+v %+v", p, page)
	}
	api := s.API(t, "catalog", auth.AdminClient)
	if err := api.Do(context.Background(), "PUT", "/v1/products/{id}", "/v1/products/"+id, nil, map[string]any{
		"name": "Repriced", "description": "d", "category": "testing", "price_cents": 1999,
		"image_url": "https://images.shop.example/x.jpg",
	}, nil); err != nil {
		t.Fatal(err)
	}
	anon.Do("GET", "/api/products/"+id, nil, nil).Decode(t, &p)
	anon.Do("GET", "/api/products?ids="+id, nil, nil).Decode(t, &page)
	if p.PriceCents != 1999 || page.Products[0].PriceCents != 1999 {
		t.Errorf("after the change: product %d, listing %d; want 1999 in both", p.PriceCents, page.Products[0].PriceCents)
	}
	hits := 0
	for _, set := range s.MetricAttributeSets(t, "catalog", "shop.catalog.cache.requests") {
		if v, _ := set.Value("result"); v.AsString() == "hit" {
			hits++
		}
	}
	if hits == 0 {
		t.Error("no cache hit was counted")
	}
}
