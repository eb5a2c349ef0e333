package catalog

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/demodata"
	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/internal/service"
)

// The faults catalog can be told to have (deploy/flags/shop.flags.json).
const (
	faultCacheBypass   = "catalogCacheBypass"
	faultSlowSearch    = "catalogSlowSearch"
	faultProductErrors = "catalogProductErrors"
	faultRelatedHog    = "catalogRelatedProducts"
	faultTrendingLock  = "catalogTrendingLock"
)

var faults = []flags.Spec{
	{Key: faultCacheBypass, Service: "catalog",
		Summary: "reads skip the Redis cache and go to PostgreSQL, as with a cache switched off by mistake"},
	{Key: faultSlowSearch, Service: "catalog",
		Summary: "search also matches the product details, which the full-text index does not cover: every search scans and parses every product"},
	{Key: faultProductErrors, Service: "catalog",
		Summary: "one product's page fails: a malformed promotion is applied to it (targeting on productId)"},
	{Key: faultTrendingLock, Service: "catalog", Needs: flags.NeedDelay,
		Summary: "product views are counted under one process-wide lock, held while the counts go to the (simulated) analytics sink (delay): every product page queues on it"},
	{Key: faultRelatedHog, Service: "catalog", Needs: flags.NeedAmount, AmountUnit: "comparison rounds",
		Summary: "product pages compute related products by brute-force edit distance against the whole catalogue, amount rounds per request"},
}

// faultSet is the catalog's fault handles.
type faultSet struct {
	cacheBypass, slowSearch, productErrors, relatedHog, trendingLock *flags.Fault
}

// trending counts product page views for the "trending now" list. The counts
// are guarded by one mutex, held for nanoseconds — unless the
// catalogTrendingLock fault keeps it held while the counts are sent to the
// analytics sink (simulated: it takes the fault's delay), and every product page
// of the process queues behind the one sending.
type trending struct {
	mu     sync.Mutex
	views  map[string]int
	fault  *flags.Fault
	tracer trace.Tracer
}

func (t *trending) record(ctx context.Context, productID string) {
	v, flushUnderLock := t.fault.On(ctx)
	if !flushUnderLock {
		t.mu.Lock()
		t.views[productID]++
		t.mu.Unlock()
		return
	}
	ctx, span := t.tracer.Start(ctx, "count product view")
	defer span.End()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.views[productID]++
	t.flush(ctx, v.Delay.D())
}

// flush sends the counts to the analytics sink (simulated: it takes d).
func (t *trending) flush(ctx context.Context, d time.Duration) {
	_ = service.Sleep(ctx, d) // a request gone needs no flush
}

// malformedPromotion is what the catalogProductErrors fault attaches to its
// product: a discount written as text where a number of percent is expected,
// the kind of row a hand-edited back-office import leaves behind.
const malformedPromotion = "10 % off"

// applyPromotion discounts the product by promotion, "<percent>" (e.g. "15").
func applyPromotion(p Product, promotion string) (Product, error) {
	pct, err := strconv.Atoi(promotion)
	if err != nil || pct <= 0 || pct >= 100 {
		return Product{}, fmt.Errorf("product %s: promotion %q is not a whole percentage between 1 and 99", p.ID, promotion)
	}
	p.PriceCents = p.PriceCents * int64(100-pct) / 100
	return p, nil
}

// relatedProducts ranks the catalogue by how close each product's name and
// description are to p's, rounds times over (one round is what a cache would
// keep; more rounds is how the fault makes the cost visible), and returns the
// closest five.
func relatedProducts(ctx context.Context, tracer trace.Tracer, p Product, rounds int) []string {
	_, span := tracer.Start(ctx, "rank related products")
	defer span.End()
	type scored struct {
		id       string
		distance int
	}
	target := strings.ToLower(p.Name + " " + p.Description)
	var ranked []scored
	for range rounds {
		ranked = ranked[:0]
		for _, other := range demodata.Products() {
			if other.ID == p.ID {
				continue
			}
			ranked = append(ranked, scored{other.ID, editDistance(target, strings.ToLower(other.Name+" "+other.Description))})
		}
	}
	slices.SortFunc(ranked, func(a, b scored) int { return a.distance - b.distance })
	out := make([]string, 0, 5)
	for _, s := range ranked[:min(5, len(ranked))] {
		out = append(out, s.id)
	}
	span.SetAttributes(attribute.Int("shop.catalog.related_rounds", rounds))
	return out
}

// editDistance is the Levenshtein distance of a and b, by bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
