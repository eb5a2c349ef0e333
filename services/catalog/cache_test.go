package catalog

import (
	"context"
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

// Readers waiting on the same missing key share one load; when the first of them
// goes away, the load goes on and the others get its result (they used to get
// 500 "context canceled").
func TestReadThrough_FirstCallerLeaving_OthersServed(t *testing.T) {
	url := os.Getenv("SHOPTEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0" // the project's machines run one
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
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
	c := newCache(rdb, prefix, noop.NewMeterProvider().Meter("test"), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
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
		_, err := readThrough(first, c, key, time.Minute, load)
		firstDone <- err
	}()
	<-started
	secondDone := make(chan Page, 1)
	secondErr := make(chan error, 1)
	go func() {
		p, err := readThrough(context.Background(), c, key, time.Minute, load)
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
