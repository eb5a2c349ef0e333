package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/otelshop/shop/internal/service"
	"github.com/otelshop/shop/internal/storetest"
	"github.com/otelshop/shop/telemetry"
)

// A client gets its burst at once, then the sustained rate; other clients have
// their own buckets; idle buckets are forgotten.
func TestLimiter_BurstRateAndIsolation(t *testing.T) {
	l := newLimiter(10, 3) // 10 a second, bursts of 3
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if ok, _ := l.allow(context.Background(), "a", now); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.allow(context.Background(), "a", now)
	if ok || wait <= 0 || wait > 100*time.Millisecond {
		t.Errorf("4th request at once: allowed %v, wait %s; want refused with about 100ms to wait", ok, wait)
	}
	if ok, _ := l.allow(context.Background(), "b", now); !ok {
		t.Error("another client was refused for a's burst")
	}
	if ok, _ := l.allow(context.Background(), "a", now.Add(100*time.Millisecond)); !ok {
		t.Error("a token did not come back after 100ms at 10/s")
	}
	l.buckets["a"].lastSeen = now.Add(-2 * bucketIdle)
	l.forgetIdle(now)
	if _, ok := l.buckets["a"]; ok {
		t.Error("an idle bucket was kept")
	}
	if _, ok := l.buckets["b"]; !ok {
		t.Error("a busy bucket was dropped")
	}
}

// However many clients appear, the buckets stay bounded: beyond maxBuckets the
// newcomers share one.
func TestLimiter_BoundedWhateverClientsAppear(t *testing.T) {
	l := newLimiter(1000, 1000)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxBuckets + 500 {
		l.allow(context.Background(), fmt.Sprintf("client-%d", i), now)
	}
	if n := len(l.buckets); n > maxBuckets+1 {
		t.Errorf("%d buckets for %d clients, want at most %d", n, maxBuckets+500, maxBuckets+1)
	}
	if _, ok := l.buckets[overflow]; !ok {
		t.Error("no shared bucket for the clients beyond the bound")
	}
}

// gateways returns n limiters of rate and burst, as n gateways have them, sharing
// their budgets through the Redis at redisURL (or each alone when redisURL is "").
func gateways(t testing.TB, n int, perSecond float64, burst int, redisURL, keyPrefix string) []*limiter {
	t.Helper()
	tel, err := telemetry.Start(context.Background(), telemetry.Config{ServiceName: "gateway-test", Disabled: true, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ls := make([]*limiter, n)
	for i := range ls {
		ls[i] = newLimiter(perSecond, burst)
		if redisURL == "" {
			continue
		}
		closeShared, err := shareBudgets(service.Runtime{Telemetry: tel, Stores: service.Stores{RedisURL: redisURL, KeyPrefix: keyPrefix}},
			map[string]*limiter{"api": ls[i]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(closeShared)
	}
	return ls
}

// allowed counts the requests of client the gateways let through, taking turns.
func allowed(ls []*limiter, client string, requests int) int {
	n := 0
	for i := range requests {
		if ok, _ := ls[i%len(ls)].allow(context.Background(), client, time.Now()); ok {
			n++
		}
	}
	return n
}

// Two gateways give a client one budget between them, whichever takes its requests;
// each alone would give it twice that.
func TestLimiter_TwoGateways_OneBudgetPerClient(t *testing.T) {
	redisURL := storetest.RedisURL(t)
	const burst = 10
	// One token every 100 s: nothing refills while the test runs.
	shared := gateways(t, 2, 0.01, burst, redisURL, storetest.Name("rl")+":")
	if got := allowed(shared, "user:a", 3*burst); got != burst {
		t.Errorf("two gateways sharing the budget let %d of %d requests through, want the burst of %d", got, 3*burst, burst)
	}
	if got := allowed(shared, "user:b", burst); got != burst {
		t.Errorf("another client got %d of its %d: it has a budget of its own", got, burst)
	}
	ok, wait := shared[0].allow(context.Background(), "user:a", time.Now())
	if ok || wait < 90*time.Second || wait > 101*time.Second {
		t.Errorf("a request over the budget: allowed %v, retry after %s; want refused with about 100 s to wait", ok, wait)
	}
	if got := allowed(gateways(t, 2, 0.01, burst, "", ""), "user:a", 3*burst); got != 2*burst {
		t.Errorf("two gateways alone let %d through, want %d (the difference sharing makes)", got, 2*burst)
	}
}

// With Redis unreachable, a gateway neither fails nor lets everything through: it
// limits alone with the same numbers until Redis answers again.
func TestLimiter_StoreUnreachable_EachGatewayLimitsAlone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "redis://" + ln.Addr().String() + "/0"
	ln.Close() // nothing listens there now
	const burst = 10
	ls := gateways(t, 2, 0.01, burst, dead, "rl:")
	if got := allowed(ls, "user:a", 4*burst); got != 2*burst {
		t.Errorf("with Redis away two gateways let %d of %d through, want each its own burst (%d)", got, 4*burst, 2*burst)
	}
}

// The cost of a shared budget: one Redis round trip per request.
//
//	go test -run '^$' -bench Limiter -benchmem ./services/gateway/
func BenchmarkLimiter_Allow(b *testing.B) {
	redisURL := storetest.RedisURL(b)
	for _, tc := range []struct{ name, redisURL string }{{"local", ""}, {"redis", redisURL}} {
		b.Run(tc.name, func(b *testing.B) {
			l := gateways(b, 1, 1e6, 1_000_000, tc.redisURL, storetest.Name("rlbench")+":")[0]
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				if ok, _ := l.allow(ctx, fmt.Sprintf("user:%d", i%1000), time.Now()); !ok {
					b.Fatal("refused")
				}
			}
		})
	}
}
