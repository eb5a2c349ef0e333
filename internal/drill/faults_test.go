package drill_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/drill"
	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/internal/shoptest"
)

// Every fault of the catalogue changes what its service does, the way its
// summary says: a flag that silently does nothing fails here, in seconds,
// before any drill. The drills (e2e, make drills) prove the platform notices.
func TestFaults_EachChangesItsService(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	ctx := context.Background()
	product := "SKU-00042" // the product catalogProductErrors targets in the shipped file
	shopper := s.NewShopper(t)
	ordersDB := s.Connect(t, "orders")
	checkout := func(c *shoptest.Client, card string) shoptest.Response {
		c.AddToCart(product, 1)
		body := shoptest.CheckoutBody(card)
		if strings.HasPrefix(card, "37") { // American Express: a four-digit CVC
			body["payment"].(map[string]string)["cvc"] = "1234"
		}
		return c.Do("POST", "/api/checkout", body, http.Header{"Idempotency-Key": {shoptest.RandomHex(12)}})
	}
	// set switches a fault and waits until the process says it took effect
	// (shop.feature_flag.active).
	set := func(t *testing.T, fault, variant string) {
		t.Helper()
		s.SetFault(t, fault, variant)
		want := int64(1)
		if variant == flags.Off {
			want = 0
		}
		shoptest.Eventually(t, 5*time.Second, func() error {
			if got := gaugeOf(s.Metrics(t, "shop"), "shop.feature_flag.active", "feature_flag.key", fault); got != want {
				return fmt.Errorf("%s active = %d, want %d", fault, got, want)
			}
			return nil
		})
	}
	on := func(t *testing.T, fault, variant string) {
		t.Helper()
		set(t, fault, variant)
		t.Cleanup(func() { set(t, fault, flags.Off) })
	}
	checked := map[string]bool{}
	run := func(fault string, test func(t *testing.T)) {
		checked[fault] = true
		t.Run(fault, test)
	}

	run("paymentsSlowProcessor", func(t *testing.T) {
		on(t, "paymentsSlowProcessor", "100%")
		start := time.Now()
		if r := checkout(shopper, ""); r.Status != http.StatusCreated {
			t.Fatalf("checkout: %d %s", r.Status, r.Body)
		}
		if took := time.Since(start); took < 1500*time.Millisecond {
			t.Errorf("checkout took %s; the processor is 1.5 s late", took)
		}
	})
	run("paymentsBrandOutage", func(t *testing.T) {
		on(t, "paymentsBrandOutage", "on")
		if r := checkout(shopper, "378282246310005"); r.Status < 500 {
			t.Errorf("an Amex checkout: %d %s, want a server error", r.Status, r.Body)
		}
		shopper.Do("DELETE", "/api/cart", nil, nil)
		if r := checkout(shopper, ""); r.Status != http.StatusCreated {
			t.Errorf("a Visa checkout: %d %s", r.Status, r.Body)
		}
	})
	run("catalogTrendingLock", func(t *testing.T) {
		on(t, "catalogTrendingLock", "50ms")
		start := time.Now()
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() { s.Anonymous(t).Do("GET", fmt.Sprintf("/api/products/SKU-%05d", 10+i), nil, nil) })
		}
		wg.Wait()
		if took := time.Since(start); took < 200*time.Millisecond {
			t.Errorf("four concurrent product pages took %s: they did not queue on the 50 ms lock", took)
		}
	})
	run("catalogCacheBypass", func(t *testing.T) {
		on(t, "catalogCacheBypass", "100%")
		before := counterSum(s.Metrics(t, "catalog"), "shop.catalog.cache.requests", "result", "bypass")
		for range 3 {
			s.Anonymous(t).Do("GET", "/api/products/SKU-00001", nil, nil)
		}
		if n := counterSum(s.Metrics(t, "catalog"), "shop.catalog.cache.requests", "result", "bypass") - before; n < 3 {
			t.Errorf("%d reads bypassed the cache, want 3", n)
		}
	})
	run("catalogSlowSearch", func(t *testing.T) {
		on(t, "catalogSlowSearch", "on")
		since := time.Now()
		word := "warranty" + shoptest.RandomHex(2) // a query no listing of the cache holds
		s.Anonymous(t).Do("GET", "/api/products?q="+word, nil, nil)
		found := false
		for _, sp := range spansOf(t, s, "catalog", since) {
			for _, a := range sp.Attributes() {
				if a.Key == "db.query.text" && strings.Contains(a.Value.AsString(), "to_tsvector('english', name || ' ' || description || ' ' || details)") {
					found = true
				}
			}
		}
		if !found {
			t.Error("no query of catalog parsed the details")
		}
	})
	run("catalogProductErrors", func(t *testing.T) {
		on(t, "catalogProductErrors", "on")
		if r := s.Anonymous(t).Do("GET", "/api/products/"+product, nil, nil); r.Status < 500 {
			t.Errorf("the targeted product: %d", r.Status)
		}
		if r := s.Anonymous(t).Do("GET", "/api/products/SKU-00001", nil, nil); r.Status != http.StatusOK {
			t.Errorf("another product: %d %s", r.Status, r.Body)
		}
	})
	run("catalogRelatedProducts", func(t *testing.T) {
		on(t, "catalogRelatedProducts", "light")
		var p struct{ Related []string }
		s.Anonymous(t).Do("GET", "/api/products/SKU-00002", nil, nil).Decode(t, &p)
		if len(p.Related) != 5 {
			t.Errorf("related products %v, want 5 of them computed", p.Related)
		}
	})
	run("ordersListNPlusOne", func(t *testing.T) {
		c := s.NewShopper(t)
		for range 3 {
			if r := checkout(c, ""); r.Status != http.StatusCreated {
				t.Fatalf("checkout: %d %s", r.Status, r.Body)
			}
		}
		on(t, "ordersListNPlusOne", "on")
		since := time.Now()
		c.Do("GET", "/api/orders", nil, nil)
		n := 0
		for _, sp := range spansOf(t, s, "orders", since) {
			for _, a := range sp.Attributes() {
				if a.Key == "db.query.text" && strings.Contains(a.Value.AsString(), "FROM order_items WHERE order_id = $1") {
					n++
				}
			}
		}
		if n < 3 {
			t.Errorf("the items query ran %d times for 3 orders", n)
		}
	})
	run("ordersPoolExhausted", func(t *testing.T) {
		since := time.Now()
		on(t, "ordersPoolExhausted", "1-left")
		shoptest.Eventually(t, 5*time.Second, func() error {
			acquired, max := gauge(s.Metrics(t, "orders"), "pgxpool.acquired_connections"), gauge(s.Metrics(t, "orders"), "pgxpool.max_connections")
			if max == 0 || acquired < max-1 {
				return fmt.Errorf("%d of %d connections taken", acquired, max)
			}
			return nil
		})
		// Each leaked connection's trace: the job's span, a begin under it, and
		// no commit or rollback.
		spans := spansOf(t, s, "orders", since)
		jobTraces := map[string]bool{}
		for _, sp := range spans {
			if sp.Name() == "export daily sales" {
				jobTraces[sp.SpanContext().TraceID().String()] = true
			}
		}
		var queries []string
		for _, sp := range spans {
			if !jobTraces[sp.SpanContext().TraceID().String()] {
				continue
			}
			for _, kv := range sp.Attributes() {
				if kv.Key == "db.query.text" {
					queries = append(queries, kv.Value.AsString())
				}
			}
		}
		jobs := len(jobTraces)
		begins, ends := drill.Transactions(queries)
		if jobs == 0 || begins < jobs || ends > 0 {
			t.Errorf("%d job spans, %d begins and %d commits or rollbacks since the fault went on; want a begin per job and no end", jobs, begins, ends)
		}
	})
	run("ordersOutboxStall", func(t *testing.T) {
		on(t, "ordersOutboxStall", "on")
		c := s.NewShopper(t)
		r := checkout(c, "")
		if r.Status != http.StatusCreated {
			t.Fatalf("checkout: %d %s", r.Status, r.Body)
		}
		var o struct{ ID string }
		r.Decode(t, &o)
		shoptest.Eventually(t, 5*time.Second, func() error {
			for _, rec := range s.Logs.Records() {
				if strings.Contains(rec.Body().AsString(), "RabbitMQ connection is blocked") {
					return nil
				}
			}
			return fmt.Errorf("the relay has not logged the blocked connection")
		})
		var unpublished int
		if err := ordersDB.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL AND payload->>'order_id' = $1`, o.ID).Scan(&unpublished); err != nil || unpublished != 1 {
			t.Errorf("the placed order's event: %d unpublished (%v), want it waiting in the outbox", unpublished, err)
		}
		set(t, "ordersOutboxStall", flags.Off)
		shoptest.Eventually(t, 10*time.Second, func() error {
			if r := c.Do("GET", "/api/orders/"+o.ID+"/shipment", nil, nil); r.Status != http.StatusOK {
				return fmt.Errorf("shipment: %d", r.Status)
			}
			return nil
		})
	})
	run("ordersRetryStorm", func(t *testing.T) {
		on(t, "ordersRetryStorm", "5x-25ms")
		before := counterSum(s.Metrics(t, "orders"), "shop.dependency.attempts", "retry", "true")
		on(t, "paymentsSlowProcessor", "100%") // a slow dependency is what the storm feeds on
		checkout(shopper, "")
		shopper.Do("DELETE", "/api/cart", nil, nil)
		if n := counterSum(s.Metrics(t, "orders"), "shop.dependency.attempts", "retry", "true") - before; n < 4 {
			t.Errorf("%d retries to payments for one checkout, want the storm's 4 or more", n)
		}
	})
	run("cartMemoryLeak", func(t *testing.T) {
		heap := func() uint64 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return m.HeapAlloc
		}
		before := heap()
		on(t, "cartMemoryLeak", "256KiB")
		for range 20 {
			shopper.Do("GET", "/api/cart", nil, nil)
		}
		if grew := int64(heap()) - int64(before); grew < 4<<20 {
			t.Errorf("the heap grew by %d KiB over 20 cart answers of 256 KiB kept", grew>>10)
		}
		set(t, "cartMemoryLeak", flags.Off)
		shopper.Do("GET", "/api/cart", nil, nil) // the first answer after the fault drops the history
		if after := heap(); after > before+(2<<20) {
			t.Errorf("the history was not dropped: the heap is %d KiB above where it was", (after-before)>>10)
		}
	})
	run("shippingCarrierStall", func(t *testing.T) {
		on(t, "shippingCarrierStall", "15s")
		c := s.NewShopper(t)
		r := checkout(c, "") // ships to DE, which the shipped rule targets
		var o struct{ ID string }
		r.Decode(t, &o)
		var published time.Time
		shoptest.Eventually(t, 5*time.Second, func() error {
			return ordersDB.QueryRow(ctx, `SELECT published_at FROM outbox WHERE payload->>'order_id' = $1 AND published_at IS NOT NULL`, o.ID).Scan(&published)
		})
		var shipment struct {
			CreatedAt time.Time `json:"created_at"`
		}
		shoptest.Eventually(t, 30*time.Second, func() error { // the hung booking ends after its 15 s
			r := c.Do("GET", "/api/orders/"+o.ID+"/shipment", nil, nil)
			if r.Status != http.StatusOK {
				return fmt.Errorf("shipment: %d", r.Status)
			}
			r.Decode(t, &shipment)
			return nil
		})
		if waited := shipment.CreatedAt.Sub(published); waited < 14*time.Second {
			t.Errorf("the shipment was created %s after the event left the outbox; the carrier hangs 15 s", waited)
		}
	})
	run("shippingTrackerLeak", func(t *testing.T) {
		on(t, "shippingTrackerLeak", "10")
		c := s.NewShopper(t)
		if r := checkout(c, ""); r.Status != http.StatusCreated {
			t.Fatalf("checkout: %d %s", r.Status, r.Body)
		}
		shoptest.Eventually(t, 10*time.Second, func() error {
			if n := goroutinesIn("shipping.watchTracking"); n < 10 {
				return fmt.Errorf("%d goroutines wait in watchTracking after one shipment, want 10", n)
			}
			return nil
		})
		set(t, "shippingTrackerLeak", flags.Off)
		checkout(c, "") // the next shipment after the fault releases them
		shoptest.Eventually(t, 10*time.Second, func() error {
			if n := goroutinesIn("shipping.watchTracking"); n != 0 {
				return fmt.Errorf("%d goroutines still wait in watchTracking", n)
			}
			return nil
		})
	})

	run("inventoryUnavailable", func(t *testing.T) {
		on(t, "inventoryUnavailable", "100%")
		// Last: the orders service's breaker stays open a while after this.
		before := counterSum(s.Metrics(t, "orders"), "shop.orders.failed", "reason", "inventory_unavailable")
		if r := checkout(shopper, ""); r.Status != http.StatusServiceUnavailable {
			t.Errorf("checkout: %d %s, want 503", r.Status, r.Body)
		}
		if n := counterSum(s.Metrics(t, "orders"), "shop.orders.failed", "reason", "inventory_unavailable") - before; n != 1 {
			t.Errorf("%d checkouts failed for inventory_unavailable, want 1", n)
		}
		shopper.Do("DELETE", "/api/cart", nil, nil)
	})

	for _, sp := range app.Faults() {
		if !checked[sp.Key] {
			t.Errorf("fault %s has no test of its effect here", sp.Key)
		}
	}
}

// goroutinesIn counts the goroutines with fn on their stack.
func goroutinesIn(fn string) int {
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	n := 0
	for _, g := range strings.Split(b.String(), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

func serviceOf(sp sdktrace.ReadOnlySpan) string {
	v, _ := sp.Resource().Set().Value("service.name")
	return v.AsString()
}

func spansOf(t *testing.T, s *shoptest.Shop, service string, since time.Time) []sdktrace.ReadOnlySpan {
	s.Flush(t)
	var out []sdktrace.ReadOnlySpan
	for _, sp := range s.Spans.GetSpans().Snapshots() {
		if serviceOf(sp) == service && !sp.StartTime().Before(since) {
			out = append(out, sp)
		}
	}
	return out
}

func counterSum(rm metricdata.ResourceMetrics, name, key, value string) int64 {
	var sum int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if d, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == name {
				for _, p := range d.DataPoints {
					if v, ok := p.Attributes.Value(attributeKey(key)); ok && v.Emit() == value {
						sum += p.Value
					}
				}
			}
		}
	}
	return sum
}

func attributeKey(k string) attribute.Key { return attribute.Key(k) }

// gaugeOf is a gauge's value for the point whose attribute key is value.
func gaugeOf(rm metricdata.ResourceMetrics, name, key, value string) int64 {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if d, ok := m.Data.(metricdata.Gauge[int64]); ok && m.Name == name {
				for _, p := range d.DataPoints {
					if v, ok := p.Attributes.Value(attributeKey(key)); ok && v.Emit() == value {
						return p.Value
					}
				}
			}
		}
	}
	return -1
}

func gauge(rm metricdata.ResourceMetrics, name string) int64 {
	var sum int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					sum += p.Value
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					sum += p.Value
				}
			}
		}
	}
	return sum
}
