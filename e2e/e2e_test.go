// Package e2e proves the telemetry pipeline end to end: the collector, Jaeger and
// Prometheus built from the module proxy run as local processes with the same config
// files compose uses, the shop runs as one process per service (as in compose), the
// load generator drives it for a minute, and the tests ask the real backends' HTTP APIs
// whether every signal arrived, linked to the others.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otelshop/shop/internal/localstack"
	"github.com/otelshop/shop/internal/shoptest"
)

// platform is the running stack every test in this package asks.
var platform struct {
	PrometheusURL, JaegerURL string
	GatewayURL               string
	LogsFile                 string // the collector's log output in local mode (OTLP JSON lines)
	Pyroscope                *shoptest.FakePyroscope
	Stack                    *localstack.Stack
	// Started is when the shop's first process started; FirstTraceAfter how long until
	// Jaeger could return a trace of it.
	Started         time.Time
	FirstTraceAfter time.Duration
	LoadReport      string
}

// services run one process each, in start order (each waits until ready), on ports
// of their own (18080 upwards, admin 19464 upwards) so that a shop a developer runs on
// the default ports does not collide with the test's.
var services = []struct {
	name string
	port int
}{
	{"users", 18081}, {"catalog", 18082}, {"cart", 18083}, {"inventory", 18084},
	{"payments", 18086}, {"orders", 18085}, {"shipping", 18087}, {"gateway", 18080},
}

func adminAddr(i int) string { return fmt.Sprintf("127.0.0.1:%d", 19464+i) }

// addressEnv points every service at the others' test ports.
func addressEnv() []string {
	var env []string
	for _, s := range services {
		key := strings.ToUpper(s.name)
		env = append(env, fmt.Sprintf("%s_ADDR=127.0.0.1:%d", key, s.port))
		if s.name == "inventory" {
			env = append(env, fmt.Sprintf("INVENTORY_TARGET=127.0.0.1:%d", s.port))
		} else {
			env = append(env, fmt.Sprintf("%s_URL=http://127.0.0.1:%d", key, s.port))
		}
	}
	return env
}

// loadDuration is how long the load generator drives the shop.
const loadDuration = 60 * time.Second

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped with -short (it builds the backends and drives the shop for a minute)")
		os.Exit(0)
	}
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: the platform did not come up:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	root, err := filepath.Abs("..")
	if err != nil {
		return 0, err
	}
	var targets []string
	for i := range services {
		targets = append(targets, adminAddr(i))
	}
	// The collector scrapes every service process's /metrics (it reads its
	// environment, which the stack's processes inherit).
	os.Setenv("SHOP_METRICS_TARGETS", "["+strings.Join(targets, ", ")+"]")

	stackLog := &strings.Builder{}
	stack, err := localstack.Start(ctx, localstack.Config{Root: root, BuildTools: true, Log: stackLog, ReadyTimeout: 2 * time.Minute})
	if err != nil {
		return 0, fmt.Errorf("%w\n%s", err, stackLog.String())
	}
	defer func() {
		stopCtx, c := context.WithTimeout(context.Background(), 30*time.Second)
		defer c()
		if err := stack.Stop(stopCtx); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stop:", err)
		}
	}()
	platform.Stack, platform.LogsFile = stack, stack.LogsFile
	platform.PrometheusURL, platform.JaegerURL = localstack.PrometheusURL, localstack.JaegerURL
	platform.GatewayURL = "http://127.0.0.1:18080"

	shopBin := filepath.Join(stack.DataDir, "shop")
	build := exec.CommandContext(ctx, "go", "build", "-o", shopBin, "./cmd/shop")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build the shop: %v\n%s", err, out)
	}

	pyroscope := &fakeT{}
	platform.Pyroscope = shoptest.StartFakePyroscope(pyroscope)
	defer pyroscope.cleanup()

	prefix := "e2e" + randomHex(3)
	common := []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + localstack.CollectorOTLPGRPC,
		"OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_METRIC_EXPORT_INTERVAL=10000", // as compose and local mode ship it
		"OTEL_BSP_SCHEDULE_DELAY=1000",
		"OTEL_BLRP_SCHEDULE_DELAY=1000",
		"PYROSCOPE_SERVER_ADDRESS=" + platform.Pyroscope.URL,
		"POSTGRES_DB_PREFIX=" + prefix + "_",
		"REDIS_KEY_PREFIX=" + prefix + ":",
		"RABBITMQ_EXCHANGE=" + prefix + ".events",
		"SHIPPING_QUEUE=" + prefix + ".shipping",
		"JWT_SECRET=e2e-secret-" + prefix + "-0123456789",
		"BCRYPT_COST=4",
		"RATE_LIMIT_RPS=0", // one load generator on one address is many shoppers
	}
	common = append(common, addressEnv()...)
	defer dropStores(prefix)
	platform.Started = time.Now()
	for i, svc := range services {
		env := append([]string{"ADMIN_ADDR=" + adminAddr(i)}, common...)
		health := fmt.Sprintf("http://127.0.0.1:%d/readyz", svc.port)
		if svc.name == "inventory" { // gRPC: its process's admin endpoint says it is up
			health = "http://" + adminAddr(i) + "/healthz"
		}
		if _, err := stack.Run(ctx, localstack.Process{Name: svc.name, Path: shopBin, Args: []string{svc.name},
			Env: env, HealthURL: health}); err != nil {
			return 0, fmt.Errorf("start %s: %w", svc.name, err)
		}
	}
	if platform.FirstTraceAfter, err = waitFirstTrace(ctx); err != nil {
		return 0, err
	}

	report := filepath.Join(stack.DataDir, "loadgen.json")
	load := exec.CommandContext(ctx, shopBin, "loadgen", "-target", platform.GatewayURL, "-rate", "12",
		"-duration", loadDuration.String(), "-json", report, "-threshold", "errors<5%")
	load.Env = append(os.Environ(), common...)
	var loadOut strings.Builder
	load.Stdout, load.Stderr = &loadOut, io.Discard
	if err := load.Run(); err != nil {
		return 0, fmt.Errorf("load run: %v\n%s", err, loadOut.String())
	}
	platform.LoadReport = loadOut.String()
	fmt.Println(platform.LoadReport)
	return m.Run(), nil
}

// waitFirstTrace waits until Jaeger returns a trace of the gateway, and says how long
// that took from the shop's start.
func waitFirstTrace(ctx context.Context) (time.Duration, error) {
	for {
		resp, err := http.Get(platform.GatewayURL + "/api/categories")
		if err == nil {
			resp.Body.Close()
		}
		var traces struct{ Data []any }
		if shoptest.GetJSON(ctx, platform.JaegerURL+"/api/traces?service=gateway&limit=1&lookback=1h", &traces) == nil && len(traces.Data) > 0 {
			return time.Since(platform.Started), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no gateway trace in Jaeger: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// fakeT lets the test helpers that want a testing.TB run in TestMain.
type fakeT struct {
	testing.TB
	cleanups []func()
}

func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Helper()           {}
func (f *fakeT) cleanup() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}
