package shoptest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/internal/service"
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

	addrs     map[string]string // where each service listens
	mu        sync.Mutex
	readers   map[string]*sdkmetric.ManualReader
	tels      []*telemetry.Telemetry
	dbs       map[string]*pgxpool.Pool     // Connect's pools, by service
	inventory map[string]*inventory.Client // inventory clients, by the client they call as
	payments  *payments.Client             // Payments' client

	cancel context.CancelFunc
	done   chan error
}

// Start runs every service in this process and waits until all are ready. The shop
// stops, and its databases, keys, queues and exchanges are removed, when the test ends.
func Start(t testing.TB, opts Options) *Shop {
	t.Helper()
	st := LocalStores(t)
	s := &Shop{
		Stores:    st,
		Prefix:    "t" + randomLetters(8),
		URL:       map[string]string{},
		Spans:     tracetest.NewInMemoryExporter(),
		Logs:      &LogCapture{},
		Stdout:    &SyncBuffer{},
		readers:   map[string]*sdkmetric.ManualReader{},
		dbs:       map[string]*pgxpool.Pool{},
		inventory: map[string]*inventory.Client{},
		done:      make(chan error, 1),
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
	s.Env = map[string]string{
		"POSTGRES_URL":                st.PostgresURL,
		"POSTGRES_DB_PREFIX":          s.Prefix + "_",
		"REDIS_URL":                   st.RedisURL,
		"REDIS_KEY_PREFIX":            s.Prefix + ":",
		"RABBITMQ_URL":                rabbitURL,
		"RABBITMQ_EXCHANGE":           s.Prefix + ".events",
		"SHIPPING_QUEUE":              s.Prefix + ".shipping",
		auth.SecretsDirEnv:            t.TempDir(),
		"BCRYPT_COST":                 "4",
		"RATE_LIMIT_RPS":              "0",
		"LOGIN_RATE_LIMIT_RPS":        "0",
		"PAYMENTS_LATENCY_MS":         "0",
		"PAYMENTS_FAILURE_RATE":       "0",
		"OUTBOX_INTERVAL":             "100ms",
		"RESERVATION_EXPIRY_INTERVAL": "200ms",
		"SHIPPING_RETRY_DELAY":        "200ms",
		// Every listener on a port the kernel picks when it opens it: no port is
		// chosen beforehand, so none can be taken in between.
		app.AdminAddrEnv: "127.0.0.1:0",
		// The shipped flag file (every fault off), copied so a test may switch one.
		flags.FileEnv:     copyFlagFile(t),
		flags.IntervalEnv: "50ms",
	}
	for _, d := range app.Registry {
		s.Env[d.AddrEnv()] = "127.0.0.1:0"
	}
	for k, v := range opts.Env {
		s.Env[k] = v
	}
	bound := func(addrs map[string]string) map[string]string {
		s.addrs = map[string]string{}
		for _, d := range app.Registry {
			s.addrs[d.Name] = addrs[d.Name]
			if d.Protocol == service.HTTP {
				s.URL[d.Name] = d.PeerAddress(addrs[d.Name])
			}
		}
		s.GatewayURL = s.URL["gateway"]
		s.InventoryTarget = addrs["inventory"]
		s.AdminURL = "http://" + addrs["admin"]
		if !opts.PaymentsProxy {
			return nil
		}
		s.PaymentsProxy = NewFaultProxy(t, addrs["payments"])
		return map[string]string{"payments": "http://" + s.PaymentsProxy.Addr()}
	}

	// Start waits until the listeners are open: the addresses are known then.
	listening := make(chan struct{})
	boundOnce := func(addrs map[string]string) map[string]string {
		defer close(listening)
		return bound(addrs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	t.Cleanup(func() { s.stop(t) })
	go func() {
		s.done <- app.Run(ctx, app.Options{
			Services: app.Names(), ProcessName: "shop", Version: "test", Bound: boundOnce,
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
	select {
	case <-listening:
	case err := <-s.done:
		t.Fatalf("the shop did not start: %v\n%s", err, s.Stdout.String())
	}
	s.waitReady(t)
	return s
}

func (s *Shop) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	pending := slices.Collect(maps.Keys(s.addrs))
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
			if d, _ := app.Lookup(name); !d.Ready(context.Background(), s.addrs[name]) {
				still = append(still, name)
			}
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(50 * time.Millisecond)
		}
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
	for _, c := range s.inventory {
		c.Close()
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
	return app.RemoveStores(ctx, service.Stores{
		PostgresURL: st.PostgresURL, DatabasePrefix: prefix + "_",
		RedisURL: st.RedisURL, KeyPrefix: prefix + ":",
		RabbitURL: st.RabbitURL, Exchange: exchange,
	}, queue)
}

// randomLetters returns n random lower-case letters: a name no other run uses
// that no check for ids or long numbers mistakes for one (a database name ends up
// in metric attributes, as the pool's name).
func randomLetters(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	return string(b)
}

// RandomHex returns n random bytes in hex: names no other run of a test uses.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
