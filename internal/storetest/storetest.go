// Package storetest gives a service package's own tests the real stores without the
// whole shop: a database of its own with the package's migrations applied, and the
// RabbitMQ and Redis servers. Internal tests of a service use it where shoptest, which imports
// every service, would be an import cycle. Like shoptest, it reads SHOPTEST_*_URL,
// and where a store is unreachable it skips the test, saying why (in CI it fails).
package storetest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelshop/shop/internal/pg"
	"github.com/otelshop/shop/telemetry"
)

// PostgresURL is the server's maintenance URL.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return reachable(t, envOr("SHOPTEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"))
}

// RabbitURL is the broker's URL.
func RabbitURL(t testing.TB) string {
	t.Helper()
	return reachable(t, envOr("SHOPTEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"))
}

// RedisURL is the Redis server's URL; keep every key under a Name of the test's own.
func RedisURL(t testing.TB) string {
	t.Helper()
	return reachable(t, envOr("SHOPTEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
}

// Name returns prefix followed by random lower-case letters: a name no other run uses.
func Name(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	return prefix + string(b)
}

// Database creates a database of its own for the test, applies migrations (a
// service's embedded migrations/*.sql) as the service does, and drops it when the
// test ends.
func Database(t testing.TB, migrations fs.FS) *pgxpool.Pool {
	t.Helper()
	server := PostgresURL(t)
	name := Name("st")
	tel, err := telemetry.Start(context.Background(), telemetry.Config{ServiceName: "storetest", Disabled: true, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := pg.Open(ctx, server, name, migrations, tel)
	if err != nil {
		t.Fatalf("open a test database: %v", err)
	}
	t.Cleanup(func() {
		db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := pg.DropDatabase(ctx, server, name); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return db
}

func reachable(t testing.TB, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("store url %q: %v", raw, err)
	}
	c, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		msg := fmt.Sprintf("store %s unreachable: %v", u.Host, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	c.Close()
	return raw
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// InParallel runs each function on a goroutine of its own, all released at once,
// and waits for them: two replicas' loops racing over the same rows.
func InParallel(fns ...func()) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(func() { <-start; fn() })
	}
	close(start)
	wg.Wait()
}
