package shopper

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"

	"github.com/otelshop/shop/loadtest/internal/gateway"
	"github.com/otelshop/shop/loadtest/internal/gatewaytest"
	"github.com/otelshop/shop/loadtest/internal/metrics"
	"github.com/otelshop/shop/loadtest/internal/stats"
)

// newClient is an untraced client of base, as a run without telemetry makes it.
func newClient(tb testing.TB, base string, o gateway.Options) *gateway.Client {
	tb.Helper()
	o.BaseURL, o.Timeout, o.RunID, o.IdleConns = base, 10*time.Second, "test-shopper", 2
	if o.Propagator == nil {
		o.Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	c, err := gateway.NewClient(context.Background(), o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

// urlShoppers are -url mode sessions (one GET of base's "/" each) with no think time,
// recording into a fresh recorder whose run started at start.
func urlShoppers(tb testing.TB, client *gateway.Client, inst *metrics.Instruments, start time.Time) (*Shoppers, *stats.Recorder) {
	tb.Helper()
	u, err := url.Parse(client.Base() + "/")
	if err != nil {
		tb.Fatal(err)
	}
	ep := gateway.URLEndpoint(u)
	mix := URLMix(ep, "")
	if inst == nil {
		inst = newInstruments(tb, metricnoop.NewMeterProvider(), []gateway.Endpoint{ep}, mix)
	}
	rec := stats.NewRecorder(start, time.Minute, []string{ep.String()}, mix.Names(), 5)
	return New(Config{
		Client: client, Stats: rec, Metrics: inst, Catalog: NewCatalog(10), Mix: mix,
		ZipfS: 1.1, Seed: 1, RunID: "test-shopper", Stop: make(chan struct{}), Requests: context.Background(),
	}), rec
}

func newInstruments(tb testing.TB, mp metric.MeterProvider, eps []gateway.Endpoint, mix Mix) *metrics.Instruments {
	tb.Helper()
	inst, err := metrics.New(context.Background(), mp, eps, mix.Names())
	if err != nil {
		tb.Fatal(err)
	}
	return inst
}

// A request sent late, as when the generator itself was starved, is charged from when it
// was due, not from when it went out: the delay is the shopper's too.
func TestSession_LatencyCountsFromDueTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	shoppers, rec := urlShoppers(t, newClient(t, srv.URL, gateway.Options{}), nil, time.Now().Add(-2*time.Second))

	shoppers.Run(time.Now().Add(-time.Second), nil) // due a second ago
	latency, n := rec.Latency("", stats.Max, 0)
	if n != 1 || latency < 1 {
		t.Errorf("latency %.3fs over %d requests, want ≥ 1s: measured from the send, not from the due time", latency, n)
	}
	figures := rec.Snapshot()
	if service := time.Duration(figures.ServiceTime.Max) * time.Microsecond; service > 500*time.Millisecond {
		t.Errorf("service time %s for a trivial endpoint", service)
	}
	if lag := time.Duration(figures.StartLag.Max) * time.Microsecond; lag < time.Second {
		t.Errorf("start lag %s, want ≥ 1s", lag)
	}
}

// Discovery pages through the whole catalog, and the Zipf draw over it is skewed: a few
// products get most views, and which ones does not follow SKU order.
func TestCatalog_Discovery_ZipfPopularity(t *testing.T) {
	srv := httptest.NewServer(gatewaytest.New("test-shopper", 250).Handler())
	t.Cleanup(srv.Close)
	client := newClient(t, srv.URL, gateway.Options{})
	c, err := Discover(context.Background(), client, 7, 10000)
	if err != nil {
		t.Fatal(err)
	}
	ids := c.Products()
	if len(ids) != 250 || len(c.Categories()) != 5 {
		t.Fatalf("discovered %d products, %d categories; want 250, 5", len(ids), len(c.Categories()))
	}
	if slices.IsSorted(ids[:10]) {
		t.Errorf("popularity follows SKU order: %v", ids[:10])
	}

	s := &session{env: env{catalog: c, zipfS: 1.1}, rng: rand.New(rand.NewPCG(1, 2))}
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
	again, err := Discover(context.Background(), client, 7, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Products(), ids) {
		t.Error("the same seed ranked the catalog differently")
	}
}
