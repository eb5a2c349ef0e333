package shoptest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/pg"
	"github.com/otelshop/shop/services/inventory"
	"github.com/otelshop/shop/services/payments"
	"github.com/otelshop/shop/telemetry"
)

// Options change how the shop starts.
type Options struct {
	// Env overrides configuration variables (RESERVATION_TTL=1s, say).
	Env map[string]string
	// RabbitProxy routes the shop's RabbitMQ connections through a FaultProxy.
	RabbitProxy bool
	// PaymentsProxy routes orders' calls to payments through a FaultProxy.
	PaymentsProxy bool
	// DiscardSignals runs the real SDK pipelines into exporters that drop everything,
	// for benchmarks: keeping every span in memory would be most of what they measure.
	DiscardSignals bool
}

// Shop is a running shop and everything it emitted.
type Shop struct {
	Stores
	GatewayURL      string
	URL             map[string]string // base URL of each HTTP service by name
	InventoryTarget string
	AdminURL        string
	Prefix          string // unique to this shop: databases, keys, exchanges and queues start with it
	Env             map[string]string
	RabbitProxy     *FaultProxy
	PaymentsProxy   *FaultProxy

	Spans  *tracetest.InMemoryExporter
	Logs   *LogCapture
	Stdout *SyncBuffer

	mu        sync.Mutex
	readers   map[string]*sdkmetric.ManualReader
	tels      []*telemetry.Telemetry
	dbs       map[string]*pgxpool.Pool // Connect's pools, by service
	inventory *inventory.Client        // Inventory's client
	payments  *payments.Client         // Payments' client

	cancel context.CancelFunc
	done   chan error
}

var httpServices = []string{"gateway", "users", "catalog", "cart", "orders", "payments", "shipping"}

// Start runs every service in this process and waits until all are ready. The shop
// stops, and its databases, keys, queues and exchanges are removed, when the test ends.
func Start(t testing.TB, opts Options) *Shop {
	t.Helper()
	st := LocalStores(t)
	s := &Shop{
		Stores:  st,
		Prefix:  "t" + randomHex(4),
		URL:     map[string]string{},
		Spans:   tracetest.NewInMemoryExporter(),
		Logs:    &LogCapture{},
		Stdout:  &SyncBuffer{},
		readers: map[string]*sdkmetric.ManualReader{},
		dbs:     map[string]*pgxpool.Pool{},
		done:    make(chan error, 1),
	}
	rabbitURL := st.RabbitURL
	if opts.RabbitProxy {
		u, err := url.Parse(st.RabbitURL)
		if err != nil {
			t.Fatalf("rabbitmq url: %v", err)
		}
		s.RabbitProxy = NewFaultProxy(t, u.Host)
		u.Host = s.RabbitProxy.Addr()
		rabbitURL = u.String()
	}
	ports := freePorts(t, 9)
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	s.Env = map[string]string{
		"POSTGRES_URL":                st.PostgresURL,
		"POSTGRES_DB_PREFIX":          s.Prefix + "_",
		"REDIS_URL":                   st.RedisURL,
		"REDIS_KEY_PREFIX":            s.Prefix + ":",
		"RABBITMQ_URL":                rabbitURL,
		"RABBITMQ_EXCHANGE":           s.Prefix + ".events",
		"SHIPPING_QUEUE":              s.Prefix + ".shipping",
		"JWT_SECRET":                  "test-secret-" + s.Prefix + "-0123456789",
		"BCRYPT_COST":                 "4",
		"RATE_LIMIT_RPS":              "0",
		"PAYMENTS_LATENCY_MS":         "0",
		"PAYMENTS_FAILURE_RATE":       "0",
		"OUTBOX_INTERVAL":             "100ms",
		"RESERVATION_EXPIRY_INTERVAL": "200ms",
		"SHIPPING_RETRY_DELAY":        "200ms",
		"ADMIN_ADDR":                  addr(8),
		"INVENTORY_ADDR":              addr(3),
		"INVENTORY_TARGET":            addr(3),
	}
	for i, name := range []string{"gateway", "users", "catalog", "inventory", "cart", "orders", "payments", "shipping"} {
		if name == "inventory" {
			continue
		}
		key := strings.ToUpper(name)
		s.Env[key+"_ADDR"] = addr(i)
		s.Env[key+"_URL"] = "http://" + addr(i)
		s.URL[name] = "http://" + addr(i)
	}
	if opts.PaymentsProxy {
		s.PaymentsProxy = NewFaultProxy(t, strings.TrimPrefix(s.URL["payments"], "http://"))
		s.Env["PAYMENTS_URL"] = "http://" + s.PaymentsProxy.Addr()
	}
	for k, v := range opts.Env {
		s.Env[k] = v
	}
	s.GatewayURL = s.URL["gateway"]
	s.InventoryTarget = s.Env["INVENTORY_TARGET"]
	s.AdminURL = "http://" + s.Env["ADMIN_ADDR"]

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	t.Cleanup(func() { s.stop(t) })
	go func() {
		s.done <- app.Run(ctx, app.Options{
			Services: app.ServiceNames, ProcessName: "shop", Version: "test",
			Getenv: func(k string) string { return s.Env[k] },
			Stdout: s.Stdout,
			Telemetry: func(c *telemetry.Config) {
				reader := sdkmetric.NewManualReader()
				s.mu.Lock()
				s.readers[c.ServiceName] = reader
				s.mu.Unlock()
				c.SpanExporter, c.MetricReader, c.LogExporter = s.Spans, reader, s.Logs
				if opts.DiscardSignals {
					c.SpanExporter, c.LogExporter = discardSpans{}, discardLogs{}
				}
			},
			Started: func(tel *telemetry.Telemetry) {
				s.mu.Lock()
				s.tels = append(s.tels, tel)
				s.mu.Unlock()
			},
		})
	}()
	s.waitReady(t)
	return s
}

func (s *Shop) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	pending := append([]string{}, httpServices...)
	for len(pending) > 0 {
		select {
		case err := <-s.done:
			t.Fatalf("the shop stopped while starting: %v\n%s", err, s.Stdout.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("services not ready after 30s: %v\n%s", pending, s.Stdout.String())
		}
		var still []string
		for _, name := range pending {
			resp, err := http.Get(s.URL[name] + "/readyz")
			if err == nil {
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != http.StatusOK {
				still = append(still, name)
			}
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	for !reachable(s.InventoryTarget) {
		if time.Now().After(deadline) {
			t.Fatalf("inventory not listening after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Flush exports every signal buffered so far into the captures.
func (s *Shop) Flush(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	tels := append([]*telemetry.Telemetry(nil), s.tels...)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tel := range tels {
		if err := tel.ForceFlush(ctx); err != nil {
			t.Fatalf("flush telemetry of %s: %v", tel.ServiceName, err)
		}
	}
}

// Metrics collects the named service's metrics now.
func (s *Shop) Metrics(t testing.TB, service string) metricdata.ResourceMetrics {
	t.Helper()
	s.mu.Lock()
	reader := s.readers[service]
	s.mu.Unlock()
	if reader == nil {
		t.Fatalf("no metrics reader for service %q", service)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collect metrics of %s: %v", service, err)
	}
	return rm
}

// stop stops the shop and removes what it created in the stores.
func (s *Shop) stop(t testing.TB) {
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("the shop stopped with an error: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("the shop did not stop within 30s")
	}
	if s.RabbitProxy != nil {
		s.RabbitProxy.Restore()
	}
	s.mu.Lock()
	for _, db := range s.dbs {
		db.Close()
	}
	if s.inventory != nil {
		s.inventory.Close()
	}
	s.mu.Unlock()
	if err := RemoveStores(s.Stores, s.Prefix, s.Env["RABBITMQ_EXCHANGE"], s.Env["SHIPPING_QUEUE"]); err != nil {
		t.Errorf("clean up: %v", err)
	}
}

// RemoveStores drops what a shop run with this prefix, exchange and queue created: its
// databases, Redis keys, queues and exchanges.
func RemoveStores(st Stores, prefix, exchange, queue string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// In parallel: each drop takes about a second on a small machine.
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for _, db := range []string{"users", "catalog", "inventory", "orders", "payments", "shipping"} {
		wg.Go(func() {
			if err := pg.DropDatabase(ctx, st.PostgresURL, prefix+"_"+db); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if opts, err := redis.ParseURL(st.RedisURL); err == nil {
		rdb := redis.NewClient(opts)
		iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	}
	conn, err := amqp.Dial(st.RabbitURL)
	if err != nil {
		return errors.Join(append(all, err)...)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return errors.Join(append(all, err)...)
	}
	for _, name := range []string{queue, queue + ".retry", queue + ".dlq"} {
		_, _ = ch.QueueDelete(name, false, false, false)
	}
	_ = ch.ExchangeDelete(queue+".retry", false, false)
	_ = ch.ExchangeDelete(exchange, false, false)
	return errors.Join(all...)
}

// freePorts returns n ports free at the moment. They are picked at random below
// the kernel's ephemeral range and above the fixed ports local mode and the
// end-to-end test use (< 20000): a port from the ephemeral range (what listening
// on :0 gives) can be taken by any outgoing connection, of this process or another
// test package's, before the service listens on it.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	const low = 20000
	high := ephemeralLow()
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for attempts := 0; len(ports) < n; attempts++ {
		addr := "127.0.0.1:0"
		if high-low > 1000 && attempts < 100*n {
			addr = fmt.Sprintf("127.0.0.1:%d", low+mrand.IntN(high-low))
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			if addr == "127.0.0.1:0" {
				t.Fatalf("free port: %v", err)
			}
			continue // taken; try another
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's default
// where it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil {
		return 32768
	}
	return n
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
