package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric/noop"
)

// testCache is a cache on the machine's Redis under a prefix of its own.
func testCache(t *testing.T) (*cache, *redis.Client) {
	t.Helper()
	url := os.Getenv("SHOPTEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0" // the project's machines run one
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() }) // after the keys are gone: cleanups run last first
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no Redis at %s: %v", url, err)
		}
		t.Skipf("no Redis at %s: %v", url, err)
	}
	prefix := fmt.Sprintf("cachetest-%d:", time.Now().UnixNano())
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})
	return newCache(rdb, prefix, noop.NewMeterProvider().Meter("test"), slog.New(slog.NewTextHandler(io.Discard, nil)), nil), rdb
}

// Readers waiting on the same missing key share one load; when the first of them
// goes away, the load goes on and the others get its result (they used to get
// 500 "context canceled").
func TestCachedJSON_FirstCallerLeaving_OthersServed(t *testing.T) {
	c, _ := testCache(t)
	key := c.listKey("shared")

	started, release := make(chan struct{}), make(chan struct{})
	load := func(ctx context.Context) (Page, error) {
		close(started)
		select {
		case <-release:
			return Page{Total: 42, Products: []Product{}}, nil
		case <-ctx.Done():
			return Page{}, ctx.Err()
		}
	}
	first, leave := context.WithCancel(context.Background())
	firstDone := make(chan error, 1)
	go func() {
		_, err := cachedJSON(first, c, key, time.Minute, load)
		firstDone <- err
	}()
	<-started
	secondDone := make(chan Page, 1)
	secondErr := make(chan error, 1)
	go func() {
		var p Page
		b, err := cachedJSON(context.Background(), c, key, time.Minute, load)
		if err == nil {
			err = json.Unmarshal(b, &p)
		}
		secondDone <- p
		secondErr <- err
	}()
	leave()
	if err := <-firstDone; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller that left: %v, want context.Canceled", err)
	}
	close(release)
	if p, err := <-secondDone, <-secondErr; err != nil || p.Total != 42 {
		t.Errorf("the caller still waiting: %+v %v, want the load's page", p, err)
	}
}

// A hit answers with the bytes Redis holds, not decoded and encoded again; a
// value that is not JSON is loaded again and replaced.
func TestCachedJSON_HitServesStoredBytes_NotJSONReloaded(t *testing.T) {
	c, rdb := testCache(t)
	ctx := context.Background()
	loads := 0
	load := func(context.Context) (Page, error) {
		loads++
		return Page{Total: 7, Products: []Product{}}, nil
	}
	key := c.listKey("bytes")
	stored := []byte(`{"products":[],"total":7, "page":0}`) // spacing no encoder writes
	if err := rdb.Set(ctx, key, stored, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if b, err := cachedJSON(ctx, c, key, time.Minute, load); err != nil || string(b) != string(stored) || loads != 0 {
		t.Errorf("hit: %q, %v, %d loads; want the stored bytes and no load", b, err, loads)
	}
	if err := rdb.Set(ctx, key, "{cut sho", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	b, err := cachedJSON(ctx, c, key, time.Minute, load)
	if err != nil || loads != 1 {
		t.Fatalf("not JSON: %q, %v, %d loads; want one load", b, err, loads)
	}
	var p Page
	if err := json.Unmarshal(b, &p); err != nil || p.Total != 7 {
		t.Errorf("not JSON: answered %q (%v)", b, err)
	}
	if again, _ := rdb.Get(ctx, key).Bytes(); string(again) != string(b) {
		t.Errorf("Redis holds %q after the reload, want %q", again, b)
	}
}
