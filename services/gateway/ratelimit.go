package gateway

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/otelshop/shop/internal/redisx"
	"github.com/otelshop/shop/internal/resilience"
	"github.com/otelshop/shop/internal/service"
)

// A client's rate limit means the same however many gateways run: by default
// (RATE_LIMIT_STORE=redis) every gateway takes its tokens from one budget per
// client in Redis, so a client gets RATE_LIMIT_RPS in all, whichever replicas its
// connections reach. A budget split per replica (RATE_LIMIT_RPS/N each) would be
// wrong exactly for the clients that matter: a keep-alive or HTTP/2 client stays
// on one replica and would get 1/N of its budget, and N changes whenever the
// autoscaler scales the gateway. While Redis cannot be reached, each gateway
// limits alone with the same numbers (a client may then get up to N times its
// rate), rather than refusing or letting everything through.

// Where a gateway keeps its clients' budgets (RATE_LIMIT_STORE).
const (
	rateLimitRedis = "redis" // one budget per client, shared by every gateway
	rateLimitLocal = "local" // each gateway its own
)

// limiter keeps one token bucket per client: the user when the token is verified
// (a token cannot be made up: only users' keys sign them), else the remote
// address. Buckets idle for a while are forgotten, and there are never more than
// maxBuckets: beyond that, new clients share one bucket, so memory is bounded
// whatever clients an attacker invents. With a shared budget set, the buckets in
// this process are only the fallback while Redis is away.
type limiter struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket

	shared *sharedBudget // nil: this gateway limits alone
}

type bucket struct {
	lim      *rate.Limiter
	lastSeen time.Time
}

const (
	bucketIdle = 3 * time.Minute
	maxBuckets = 100_000
	// overflow is the bucket new clients share while the map is full.
	overflow = "\x00overflow"
)

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{rate: rate.Limit(perSecond), burst: burst, buckets: map[string]*bucket{}}
}

// allow takes a token for client, or says how long until one is free: from the
// budget every gateway shares when there is one and Redis answers, else from this
// gateway's own bucket.
func (l *limiter) allow(ctx context.Context, client string, now time.Time) (bool, time.Duration) {
	if l.shared != nil {
		if ok, wait, err := l.shared.allow(ctx, client); err == nil {
			return ok, wait
		}
	}
	return l.allowLocal(client, now)
}

func (l *limiter) allowLocal(client string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	b, ok := l.buckets[client]
	if !ok && len(l.buckets) >= maxBuckets {
		client = overflow
		b, ok = l.buckets[client]
	}
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[client] = b
	}
	b.lastSeen = now
	l.mu.Unlock()
	res := b.lim.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Second
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// forgetIdle drops buckets unused for bucketIdle at now (every minute, from run).
func (l *limiter) forgetIdle(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, b := range l.buckets {
		if now.Sub(b.lastSeen) > bucketIdle {
			delete(l.buckets, k)
		}
	}
}

// sharedBudget is one budget per client that every gateway takes from: GCRA (the
// token bucket's equivalent in one timestamp per client) in Redis, by
// go-redis/redis_rate, timed by Redis's clock so the gateways' clocks do not
// matter. Its keys are rate:<REDIS_KEY_PREFIX>ratelimit:<name>:<client> and expire
// once the client's bucket is full again.
type sharedBudget struct {
	limiter *redis_rate.Limiter
	limit   redis_rate.Limit
	prefix  string
	breaker *gobreaker.CircuitBreaker[*redis_rate.Result]
}

// sharedTimeout bounds a look-up in Redis: a request never waits longer on its
// rate limit, and a slow Redis opens the breaker.
const sharedTimeout = 100 * time.Millisecond

func (b *sharedBudget) allow(ctx context.Context, client string) (bool, time.Duration, error) {
	res, err := b.breaker.Execute(func() (*redis_rate.Result, error) {
		ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
		defer cancel()
		return b.limiter.Allow(ctx, b.prefix+client, b.limit)
	})
	if err != nil {
		return false, 0, err
	}
	if res.Allowed == 0 {
		return false, max(res.RetryAfter, time.Millisecond), nil
	}
	return true, 0, nil
}

// shareBudgets makes the limiters, by name, take from budgets in Redis that every
// gateway shares, with one breaker for them all (its state changes are logged and
// counted in shop.circuit_breaker.transitions{breaker="rate-limit-store"}). It
// never fails the gateway's start: Redis is reached on first use, and until it
// answers each gateway limits alone. The returned function closes the client.
func shareBudgets(rt service.Runtime, limiters map[string]*limiter) (func(), error) {
	opts, err := redis.ParseURL(rt.Stores.RedisURL)
	if err != nil {
		return nil, err
	}
	// Deadlines from the context bound every call; a dead Redis is given up on fast.
	opts.ContextTimeoutEnabled, opts.DialTimeout, opts.DialerRetries, opts.MaxRetries = true, 250*time.Millisecond, 1, -1
	rdb := redis.NewClient(opts)
	if err := redisx.Instrument(rdb, rt.Telemetry); err != nil {
		rdb.Close()
		return nil, err
	}
	tel := rt.Telemetry
	breaker := resilience.NewBreaker[*redis_rate.Result]("rate-limit-store", tel, func(err error) bool {
		return !errors.Is(err, context.Canceled) // a client that left says nothing about Redis
	})
	rl := redis_rate.NewLimiter(rdb)
	for name, l := range limiters {
		if l == nil {
			continue
		}
		l.shared = &sharedBudget{limiter: rl, breaker: breaker, prefix: rt.Stores.KeyPrefix + "ratelimit:" + name + ":",
			// Rate 1 per Period 1/rps: the emission interval GCRA needs, for any rate.
			limit: redis_rate.Limit{Rate: 1, Burst: l.burst, Period: time.Duration(float64(time.Second) / float64(l.rate))}}
	}
	tel.Logger.Info("rate limits shared by every gateway, in Redis", "store", rateLimitRedis)
	return func() { rdb.Close() }, nil
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}
