package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/sync/singleflight"

	"github.com/otelshop/shop/internal/flags"
)

// cache is a read-through cache in Redis in front of the store. Products live for
// productTTL, listings for listTTL; a change deletes the product and every listing.
// Redis being down makes reads slower, never failed.
type cache struct {
	rdb      *redis.Client
	prefix   string
	logger   *slog.Logger
	group    singleflight.Group
	requests metric.Int64Counter
	hit      metric.MeasurementOption
	miss     metric.MeasurementOption
	failed   metric.MeasurementOption
	bypassed metric.MeasurementOption
	bypass   *flags.Fault // catalogCacheBypass
}

const (
	productTTL = 5 * time.Minute
	listTTL    = 30 * time.Second
	// loadTimeout bounds a load from the database that callers share.
	loadTimeout = 5 * time.Second
)

func newCache(rdb *redis.Client, prefix string, meter metric.Meter, logger *slog.Logger, bypass *flags.Fault) *cache {
	requests, _ := meter.Int64Counter("shop.catalog.cache.requests",
		metric.WithDescription("Catalogue cache look-ups, by result (hit, miss, error, bypass: not asked)."))
	result := func(r string) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(attribute.String("result", r)))
	}
	return &cache{rdb: rdb, prefix: prefix + "catalog:", logger: logger, requests: requests,
		hit: result("hit"), miss: result("miss"), failed: result("error"), bypassed: result("bypass"), bypass: bypass}
}

func (c *cache) productKey(id string) string { return c.prefix + "product:" + id }
func (c *cache) listKey(q string) string     { return c.prefix + "list:" + q }

// cachedJSON returns the JSON encoding of the value at key: on a hit, the bytes
// Redis holds, served as they are (decoding and re-encoding a cached page was a
// quarter of a browse request's CPU); on a miss, loaded once however many callers
// ask at the same moment, encoded, and cached for ttl.
func cachedJSON[T any](ctx context.Context, c *cache, key string, ttl time.Duration, load func(context.Context) (T, error)) ([]byte, error) {
	if _, on := c.bypass.On(ctx); on {
		c.requests.Add(ctx, 1, c.bypassed)
		v, err := load(ctx)
		if err != nil {
			return nil, err
		}
		return json.Marshal(v)
	}
	b, err := c.rdb.Get(ctx, key).Bytes()
	switch {
	case err == nil:
		// What the shop wrote; a value that is not JSON (written by hand, cut
		// short) is reloaded rather than served. A value of another shape is
		// not caught here: a change of shape takes a new key (as categories did).
		if json.Valid(b) {
			c.requests.Add(ctx, 1, c.hit)
			return b, nil
		}
		c.requests.Add(ctx, 1, c.failed)
	case errors.Is(err, redis.Nil):
		c.requests.Add(ctx, 1, c.miss)
	default:
		c.requests.Add(ctx, 1, c.failed)
		c.logger.WarnContext(ctx, "catalog cache read failed; reading the database", "error", err)
	}
	ch := c.group.DoChan(key, func() (any, error) {
		// The load serves every caller waiting on key, not only the first: it must
		// not end when that one goes away. It keeps the first caller's trace and
		// its own deadline.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		v, err := load(lctx)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		if err := c.rdb.Set(lctx, key, b, ttl).Err(); err != nil {
			c.logger.WarnContext(lctx, "catalog cache write failed", "error", err)
		}
		return b, nil
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err() // this caller gave up; the load goes on for the others
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.([]byte), nil
	}
}

// invalidate drops a changed product and every cached listing, which may include it.
// Changes are rare (back office), so scanning the listing keys is cheap enough.
func (c *cache) invalidate(ctx context.Context, id string) error {
	keys := []string{c.productKey(id)}
	iter := c.rdb.Scan(ctx, 0, c.prefix+"list:*", 500).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("scan cached listings: %w", err)
	}
	if err := c.rdb.Unlink(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("drop cached entries: %w", err)
	}
	return nil
}
