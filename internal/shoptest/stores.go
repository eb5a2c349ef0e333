// Package shoptest starts the real shop for tests: every service in-process through
// app.Run, on free loopback ports, against real PostgreSQL, Redis and RabbitMQ with a
// database prefix, key prefix and exchange/queue names of its own, and with every
// signal captured in memory. It cleans up after itself.
package shoptest

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Stores are the addresses of the servers the shop runs on.
type Stores struct {
	PostgresURL string
	RedisURL    string
	RabbitURL   string
}

var (
	storesOnce sync.Once
	stores     Stores
	storesErr  error
)

// LocalStores returns the local servers (the project's machines run them), or starts
// them in containers where none is reachable, or skips the test, saying why, where
// Docker is absent too. Containers live as long as the test binary.
func LocalStores(t testing.TB) Stores {
	t.Helper()
	storesOnce.Do(func() {
		stores, storesErr = findStores()
	})
	if storesErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no PostgreSQL, Redis and RabbitMQ for the tests: %v", storesErr)
		}
		t.Skipf("no PostgreSQL, Redis and RabbitMQ for the tests: %v", storesErr)
	}
	return stores
}

func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func findStores() (Stores, error) {
	s := Stores{
		PostgresURL: envOr("SHOPTEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		RedisURL:    envOr("SHOPTEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
		RabbitURL:   envOr("SHOPTEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"),
	}
	if reachable("127.0.0.1:5432") && reachable("127.0.0.1:6379") && reachable("127.0.0.1:5672") {
		return s, nil
	}
	return startContainers()
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// startContainers runs the three stores with testcontainers-go.
func startContainers() (Stores, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := func(image string, port string, env map[string]string, waitFor wait.Strategy) (string, error) {
		c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
			ContainerRequest: testcontainers.ContainerRequest{
				Image: image, ExposedPorts: []string{port}, Env: env, WaitingFor: waitFor,
			},
			Started: true,
		})
		if err != nil {
			return "", fmt.Errorf("start %s (is Docker running?): %w", image, err)
		}
		return c.PortEndpoint(ctx, port, "")
	}
	pg, err := run("postgres:15-alpine", "5432/tcp", map[string]string{"POSTGRES_HOST_AUTH_METHOD": "trust"},
		wait.ForLog("database system is ready to accept connections").WithOccurrence(2))
	if err != nil {
		return Stores{}, err
	}
	rd, err := run("redis:7-alpine", "6379/tcp", nil, wait.ForListeningPort("6379/tcp"))
	if err != nil {
		return Stores{}, err
	}
	mq, err := run("rabbitmq:3.13-alpine", "5672/tcp", nil, wait.ForListeningPort("5672/tcp").WithStartupTimeout(2*time.Minute))
	if err != nil {
		return Stores{}, err
	}
	return Stores{
		PostgresURL: "postgres://postgres@" + pg + "/postgres?sslmode=disable",
		RedisURL:    "redis://" + rd + "/0",
		RabbitURL:   "amqp://guest:guest@" + mq + "/",
	}, nil
}
