// Package e2e proves the telemetry pipeline end to end: the collector, Jaeger and
// Prometheus built from the module proxy run as local processes with the same config
// files compose uses, the shop runs as one process per service (as in compose), the
// load generator drives it for a minute, and the tests ask the real backends' HTTP APIs
// whether every signal arrived, linked to the others.
package e2e

import (
	"context"
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

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/composefile"
	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/internal/localstack"
	"github.com/otelshop/shop/internal/shoptest"
	"github.com/otelshop/shop/services/gateway"
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
	// MemoryLimited says whether each process ran under its container's memory
	// limit (cgroups writable); LoadMemory is what the load generator's cgroup saw.
	MemoryLimited    bool
	MemoryLimitsSkip string // why not, when not
	LoadMemory       localstack.MemoryUsage
	// StorePeaks is the highest memory (PSS, KiB) each store used during the load.
	StorePeaks map[string]int
	// FlagsFile is the flag file every process reads: a copy of the shipped
	// one, all off, that the drills switch faults in.
	FlagsFile string
	// ShopBinary is the shop as built for the processes; Env what every shop
	// process (and the load generator) is given on top of the stack's defaults.
	ShopBinary string
	Env        []string
}

// testPort moves a service's default port into a range of the test's own (18080
// for the gateway's 8080, 19464 upwards for admin), so a shop a developer runs on
// the default ports does not collide with the test's.
func testPort(defaultPort int) int { return 10000 + defaultPort }

func adminAddr(i int) string { return fmt.Sprintf("127.0.0.1:%d", testPort(9464)+i) }

// measureMemory (E2E_MEMORY=measure) runs every process under a 1 GiB limit and
// without GOMEMLIMIT, so the peaks reported are what each needs unconstrained.
func measureMemory() bool { return os.Getenv("E2E_MEMORY") == "measure" }

// loadDuration is how long the load generator drives the shop: a minute, or
// E2E_LOAD_DURATION for a soak (`make soak`: ten minutes, for the memory figures).
func loadDuration() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("E2E_LOAD_DURATION")); err == nil && d > 0 {
		return d
	}
	return 60 * time.Second
}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped with -short (it builds the backends and drives the shop for a minute)")
		os.Exit(0)
	}
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run()) // go test -list: name the tests, start nothing
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
	compose, err := composefile.Load(ctx, filepath.Join(root, "compose.yaml"), nil)
	if err != nil {
		return 0, err
	}
	// Each process runs under the memory limit and GOMEMLIMIT of the container it
	// stands in for, where this machine lets a process be put in a memory cgroup.
	if err := localstack.MemoryLimitsSupported(); err != nil {
		platform.MemoryLimitsSkip = err.Error()
	} else {
		platform.MemoryLimited = true
	}
	limit := func(p *localstack.Process) {
		if p.ComposeService == "" {
			return
		}
		container, ok := compose.Services[p.ComposeService]
		if !ok {
			panic("compose.yaml has no service " + p.ComposeService) // a process standing in for a container compose.yaml lacks
		}
		// The settings that bound a backend's memory, as compose sets them.
		for _, key := range []string{"JAEGER_MAX_TRACES", "OTELCOL_MEMORY_LIMIT_MIB"} {
			if v := composefile.Env(container, key); v != "" {
				p.Env = append(p.Env, key+"="+v)
			}
		}
		if !platform.MemoryLimited {
			return
		}
		if measureMemory() {
			// What each process needs when nothing holds it back: the figures the
			// limits in compose.yaml are derived from.
			p.MemoryLimit = 1 << 30
			return
		}
		p.MemoryLimit = composefile.MemoryLimit(container)
		if v := composefile.Env(container, "GOMEMLIMIT"); v != "" {
			p.Env = append(p.Env, "GOMEMLIMIT="+v)
		}
	}

	stackLog := &strings.Builder{}
	stack, err := localstack.Start(ctx, localstack.Config{Root: root, BuildTools: true, Log: stackLog,
		ReadyTimeout: 2 * time.Minute, Adjust: limit, MetricsTargets: localstack.MetricsTargets(adminAddr)})
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
	platform.GatewayURL = fmt.Sprintf("http://127.0.0.1:%d", testPort(gateway.Service.Port))

	shopBin := filepath.Join(stack.DataDir, "shop")
	// As the Dockerfile builds it: the binary's size is part of each process's memory.
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", shopBin, "./cmd/shop")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build the shop: %v\n%s", err, out)
	}

	platform.Pyroscope = &shoptest.FakePyroscope{URL: localstack.PyroscopeURL, Profiles: stack.Profiles}

	prefix := "e2e" + shoptest.RandomHex(3)
	if platform.FlagsFile, err = copyFlagFile(root, stack.DataDir); err != nil {
		return 0, err
	}
	common := []string{
		"POSTGRES_DB_PREFIX=" + prefix + "_",
		"REDIS_KEY_PREFIX=" + prefix + ":",
		"RABBITMQ_EXCHANGE=" + prefix + ".events",
		"SHIPPING_QUEUE=" + prefix + ".shipping",
		auth.SecretsDirEnv + "=" + filepath.Join(stack.DataDir, "secrets"),
		"BCRYPT_COST=4",
		// One load generator on one address is many shoppers.
		"RATE_LIMIT_RPS=0",
		"LOGIN_RATE_LIMIT_RPS=0",
		// The drills switch faults in a flag file of the test's own.
		flags.FileEnv + "=" + platform.FlagsFile,
	}
	platform.ShopBinary, platform.Env = shopBin, common
	defer dropStores(prefix)
	platform.Started = time.Now()
	err = stack.RunShop(ctx, localstack.ShopConfig{Binary: shopBin, Env: common, Port: testPort, AdminAddr: adminAddr,
		OwnCopies: true, Adjust: limit})
	if err != nil {
		return 0, err
	}
	if platform.FirstTraceAfter, err = waitFirstTrace(ctx); err != nil {
		return 0, err
	}

	// The load generator inherits this process's environment: no OTEL_* of the
	// shell that runs the test may stand in for the defaults it must find.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "OTEL_") {
			os.Unsetenv(name)
		}
	}
	report := filepath.Join(stack.DataDir, "loadgen.json")
	var loadOut syncBuilder
	loadBin, err := localstack.OwnCopy(shopBin, "loadgen")
	if err != nil {
		return 0, err
	}
	load := localstack.Process{Name: "loadgen", Path: loadBin, Output: &loadOut, Stderr: io.Discard, ComposeService: "loadgen",
		Args: []string{"loadgen", "-target", platform.GatewayURL, "-rate", "12",
			"-duration", loadDuration().String(), "-json", report, "-threshold", "errors<5%"},
		// No OTEL_* variable, as a newcomer runs it: the load generator must find
		// the collector at the OTLP default (http://localhost:4318) and export its
		// metrics often enough for the Load test dashboard's rates.
		Env: common}
	limit(&load)
	stopSampling := sampleStores()
	platform.LoadMemory, err = stack.RunOnce(ctx, load)
	platform.StorePeaks = stopSampling()
	if err != nil {
		return 0, fmt.Errorf("load run: %v\n%s", err, loadOut.String())
	}
	platform.LoadReport = loadOut.String()
	fmt.Println(platform.LoadReport)
	return m.Run(), nil
}

// copyFlagFile copies deploy/flags/shop.flags.json into a directory of the
// test's own.
func copyFlagFile(root, dataDir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "deploy", "flags", "shop.flags.json"))
	if err != nil {
		return "", err
	}
	dir := filepath.Join(dataDir, "flags")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "shop.flags.json")
	return path, os.WriteFile(path, data, 0o644)
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
