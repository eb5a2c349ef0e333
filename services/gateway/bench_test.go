package gateway_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/otelshop/shop/internal/shoptest"
)

// The throughput benchmarks drive the gateway over loopback HTTP with every service in
// this process, as `shop all` runs, with telemetry on: the real SDK pipelines (spans,
// metrics, logs) into exporters that discard. They report
// requests per second and the p50/p99 latency; run with -benchtime 10s or more:
//
//	go test -run '^$' -bench Gateway -benchtime 20s ./services/gateway/
func BenchmarkGateway_ProductList(b *testing.B) {
	s := shoptest.Start(b, shoptest.Options{DiscardSignals: true})
	categories := []string{"books", "electronics", "kitchen", "outdoor", "clothing", "home", "toys", "sports"}
	benchRequests(b, s, func(c *shoptest.Client, r *rand.Rand) (int, string) {
		path := fmt.Sprintf("/api/products?category=%s&page=%d&page_size=10", categories[r.IntN(len(categories))], 1+r.IntN(2))
		return c.Do("GET", path, nil, nil).Status, path
	})
}

func BenchmarkGateway_ProductGet(b *testing.B) {
	s := shoptest.Start(b, shoptest.Options{DiscardSignals: true})
	benchRequests(b, s, func(c *shoptest.Client, r *rand.Rand) (int, string) {
		path := fmt.Sprintf("/api/products/SKU-%05d", 1+r.IntN(120))
		return c.Do("GET", path, nil, nil).Status, path
	})
}

// BenchmarkGateway_Checkout measures whole checkouts (the saga with the simulated
// processor at its default 20 ms) by 64 shoppers over 20 products. Each iteration also
// puts one item in the cart first; the latency figures are the checkout's alone, the
// rate counts checkouts per second of the whole loop.
func BenchmarkGateway_Checkout(b *testing.B) {
	s := shoptest.Start(b, shoptest.Options{DiscardSignals: true, Env: map[string]string{"PAYMENTS_LATENCY_MS": "20"}})
	products := make([]string, 20)
	for i := range products {
		products[i] = s.NewProduct(b, 1000, 1_000_000)
	}
	const pool = 64
	shoppers := make(chan *shoptest.Client, pool)
	for range pool {
		shoppers <- s.NewShopper(b)
	}
	benchRequestsWith(b, func(r *rand.Rand, timed func(func() int) int) (int, string) {
		c := <-shoppers
		defer func() { shoppers <- c }()
		c.AddToCart(products[r.IntN(len(products))], 1)
		return timed(func() int { return c.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), nil).Status }), "checkout"
	}, 32)
}

// openRate is the open model's rate of categories requests: steady traffic, about a
// sixth of what the quiet shop serves at 16 connections on two cores, so that what the
// flood does to a route is seen apart from how much CPU it leaves.
const openRate = 500

// benchOpenRequests sends do at a fixed rate, each request on time whether or not
// the earlier ones have answered (up to 256 in flight), and reports the latency
// from each request's intended start, so a stall counts for every request it
// delays.
func benchOpenRequests(b *testing.B, s *shoptest.Shop, perSecond float64, do func(*shoptest.Client, *rand.Rand) (int, string)) {
	c := s.Anonymous(b)
	hist := hdrhistogram.New(1, int64(30*time.Second/time.Microsecond), 3)
	var mu sync.Mutex
	var failed atomic.Int64
	inFlight := make(chan struct{}, 256)
	var requests sync.WaitGroup
	interval := time.Duration(float64(time.Second) / perSecond)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		inFlight <- struct{}{} // when full, the wait counts in the next request's latency
		requests.Go(func() {
			defer func() { <-inFlight }()
			status, what := do(c, rand.New(rand.NewPCG(uint64(i), 1)))
			took := time.Since(due).Microseconds()
			mu.Lock()
			_ = hist.RecordValue(took)
			mu.Unlock()
			if (status < 200 || status > 299) && failed.Add(1) == 1 {
				b.Errorf("%s answered %d", what, status)
			}
		})
	}
	requests.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(hist.ValueAtQuantile(50))/1000, "p50-ms")
	b.ReportMetric(float64(hist.ValueAtQuantile(99))/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}

func benchRequests(b *testing.B, s *shoptest.Shop, do func(*shoptest.Client, *rand.Rand) (int, string)) {
	c := s.Anonymous(b)
	benchRequestsWith(b, func(r *rand.Rand, timed func(func() int) int) (int, string) {
		var what string
		status := timed(func() int {
			var st int
			st, what = do(c, r)
			return st
		})
		return status, what
	}, 16)
}

// benchRequestsWith runs do from `concurrency` goroutines and reports throughput and the
// latency percentiles of what do times; any non-2xx answer fails the benchmark.
func benchRequestsWith(b *testing.B, do func(r *rand.Rand, timed func(func() int) int) (int, string), concurrency int) {
	hist := hdrhistogram.New(1, int64(30*time.Second/time.Microsecond), 3)
	latencies := make(chan int64, 4096)
	collected := make(chan struct{})
	go func() {
		for us := range latencies {
			_ = hist.RecordValue(us)
		}
		close(collected)
	}()
	var failed atomic.Int64
	b.SetParallelism(max(1, concurrency/2)) // ×GOMAXPROCS goroutines
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 1))
		timed := func(f func() int) int {
			t0 := time.Now()
			status := f()
			latencies <- time.Since(t0).Microseconds()
			return status
		}
		for pb.Next() {
			status, what := do(r, timed)
			if status < 200 || status > 299 {
				if failed.Add(1) == 1 {
					b.Errorf("%s answered %d", what, status)
				}
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	close(latencies)
	<-collected
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(hist.ValueAtQuantile(50))/1000, "p50-ms")
	b.ReportMetric(float64(hist.ValueAtQuantile(99))/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkGateway_CategoriesUnderLoginFlood measures GET /api/categories alone
// (quiet) and during a flood of logins with wrong passwords: 50 a second (four
// times the 12 a second that slowed every route to 0.6-0.9 s in issue #10's
// review), from up to 32 connections, with bcrypt at its production cost (10).
// Each login is to a new unknown address, so no account is locked.
// flood-one-address: the limits as shipped, the flood from one address (the
// gateway's per-address login limit answers most at once). flood-unlimited: no
// gateway limit, as from many addresses: what bounds the flood then is users'
// bcrypt pool and its CPU budget (flood-unlimited-no-pool takes both away).
// Each case runs twice: as fast as 16 connections are answered (…/closed: what CPU
// the flood leaves), and at a steady 500 requests a second (…/open: what the flood
// does to a route's traffic), latency from each request's intended start.
//
//	go test -run '^$' -bench CategoriesUnderLoginFlood -benchtime 10s ./services/gateway/
func BenchmarkGateway_CategoriesUnderLoginFlood(b *testing.B) {
	for _, tt := range []struct {
		name  string
		flood bool
		env   map[string]string
	}{
		{"quiet", false, nil},
		{"flood-one-address", true, map[string]string{"LOGIN_RATE_LIMIT_RPS": "5", "LOGIN_RATE_LIMIT_BURST": "20"}},
		{"flood-unlimited", true, nil},
		// The same without the pool's bound, for comparison: what the flood did before.
		{"flood-unlimited-no-pool", true, map[string]string{"BCRYPT_WORKERS": "64", "BCRYPT_CPU_SHARE": "1"}},
	} {
		for _, open := range []bool{false, true} {
			name := tt.name + "/closed"
			if open {
				name = tt.name + "/open"
			}
			b.Run(name, func(b *testing.B) {
				env := map[string]string{"BCRYPT_COST": "10"}
				for k, v := range tt.env {
					env[k] = v
				}
				s := shoptest.Start(b, shoptest.Options{DiscardSignals: true, Env: env})
				stop := make(chan struct{})
				var flooders sync.WaitGroup
				var logins, checked atomic.Int64
				if tt.flood {
					attempts := make(chan int)
					for range 32 {
						c := s.Anonymous(b)
						flooders.Go(func() {
							for n := range attempts {
								r := c.Do("POST", "/api/users/login", map[string]string{
									"email": fmt.Sprintf("flood-%d@example.com", n), "password": "wrong-password"}, nil)
								logins.Add(1)
								if r.Status == 401 {
									checked.Add(1) // a password was really compared
								}
							}
						})
					}
					flooders.Go(func() {
						defer close(attempts)
						tick := time.NewTicker(time.Second / 50)
						defer tick.Stop()
						for n := 0; ; n++ {
							select {
							case <-stop:
								return
							case <-tick.C:
							}
							select {
							case attempts <- n:
							default: // all 32 busy: this attempt is not made
							}
						}
					})
					time.Sleep(time.Second) // the flood under way before the first measurement
				}
				start := time.Now()
				categories := func(c *shoptest.Client, _ *rand.Rand) (int, string) {
					return c.Do("GET", "/api/categories", nil, nil).Status, "categories"
				}
				if open {
					benchOpenRequests(b, s, openRate, categories)
				} else {
					benchRequests(b, s, categories)
				}
				close(stop)
				flooders.Wait()
				secs := time.Since(start).Seconds()
				b.ReportMetric(float64(logins.Load())/secs, "logins/s")
				b.ReportMetric(float64(checked.Load())/secs, "bcrypts/s")
			})
		}
	}
}
