package loadtest

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"testing"
)

// Discovery pages through the whole catalog, and the Zipf draw over it is skewed: a few
// products get most views, and which ones does not follow SKU order.
func TestCatalog_Discovery_ZipfPopularity(t *testing.T) {
	fake := newFakeGateway("test-catalog", 250)
	srv := httptest.NewServer(fake.handler())
	t.Cleanup(srv.Close)
	cfg, err := parseConfig([]string{"-target", srv.URL, "-run-id", "test-catalog", "-seed", "7"}, testEnv(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRunner(context.Background(), cfg, Telemetry{}.withDefaults(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.client.close()
	if err := r.discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids := r.catalog.snapshot()
	if len(ids) != 250 || len(r.catalog.categoryNames()) != 5 {
		t.Fatalf("discovered %d products, %d categories; want 250, 5", len(ids), len(r.catalog.categoryNames()))
	}
	if slices.IsSorted(ids[:10]) {
		t.Errorf("popularity follows SKU order: %v", ids[:10])
	}

	s := r.newSession("test", rand.New(rand.NewPCG(1, 2)))
	counts := map[string]int{}
	const draws = 20000
	for range draws {
		id, ok := s.pickProduct()
		if !ok {
			t.Fatal("no product drawn")
		}
		counts[id]++
	}
	if top := counts[ids[0]]; top < draws/10 {
		t.Errorf("most popular product drawn %d of %d times, want a skew (uniform would be %d)", top, draws, draws/250)
	}
	var top10 int
	for _, id := range ids[:10] {
		top10 += counts[id]
	}
	if top10 < draws/3 {
		t.Errorf("top 10 of 250 products got %d of %d draws, want at least a third", top10, draws)
	}
	if len(counts) < 100 {
		t.Errorf("only %d distinct products drawn: the long tail is missing", len(counts))
	}
	// Seeded: the same seed ranks the catalog the same way.
	r2, _ := newRunner(context.Background(), cfg, Telemetry{}.withDefaults(), nil)
	defer r2.client.close()
	if err := r2.discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r2.catalog.snapshot(), ids) {
		t.Error("the same seed ranked the catalog differently")
	}
}
