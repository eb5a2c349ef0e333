package catalog

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/otelshop/shop/internal/demodata"
)

func TestApplyPromotion_RefusesTheMalformedOne(t *testing.T) {
	p := Product{ID: "SKU-00001", PriceCents: 1000}
	if got, err := applyPromotion(p, "15"); err != nil || got.PriceCents != 850 {
		t.Errorf("15 %%: %d, %v", got.PriceCents, err)
	}
	if _, err := applyPromotion(p, malformedPromotion); err == nil {
		t.Errorf("%q was applied", malformedPromotion)
	}
}

func TestRelatedProducts_ClosestFirst(t *testing.T) {
	all := demodata.Products()
	p := Product{ID: all[0].ID, Name: all[0].Name, Description: all[0].Description}
	related := relatedProducts(context.Background(), noop.NewTracerProvider().Tracer(""), p, 1)
	if len(related) != 5 {
		t.Fatalf("%d related products, want 5", len(related))
	}
	for _, id := range related {
		if id == p.ID {
			t.Error("a product is related to itself")
		}
	}
	if editDistance("kitten", "sitting") != 3 || editDistance("", "abc") != 3 {
		t.Error("edit distance is wrong")
	}
}

// One round of the catalogRelatedProducts fault: what each product page pays
// per unit of the fault's amount.
func BenchmarkRelatedProducts_OneRound(b *testing.B) {
	all := demodata.Products()
	p := Product{ID: all[0].ID, Name: all[0].Name, Description: all[0].Description}
	tracer := noop.NewTracerProvider().Tracer("")
	for b.Loop() {
		relatedProducts(context.Background(), tracer, p, 1)
	}
}
