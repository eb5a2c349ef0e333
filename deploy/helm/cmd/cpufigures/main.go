// Command cpufigures measures the CPU each process of the platform uses under the
// end-to-end load, the figures behind the chart's CPU requests (values.yaml).
//
// It runs what the end-to-end test runs (e2e/e2e_test.go): the collector,
// Prometheus and Jaeger of local mode (internal/localstack, built from the pins
// in tools/), every shop service as a process of its own with profiling on (to a
// stand-in for Pyroscope), and the load generator at the same arrival rate, then
// reads each process's CPU time from /proc/PID/stat once a second while the load
// runs. The stores are the machine's own PostgreSQL, Redis and RabbitMQ, whose
// processes are summed by name; other work on the machine shows in those.
//
//	cd deploy/helm && go run ./cmd/cpufigures                  # 3 minutes of load
//	cd deploy/helm && go run ./cmd/cpufigures -duration 10m    # a soak
//
// It prints, per process, the mean over the run and the 95th percentile and
// maximum of its 10-second windows, in millicores (1000m = one core busy).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/localstack"
	"github.com/otelshop/shop/internal/procfs"
	"github.com/otelshop/shop/internal/service"
	"github.com/otelshop/shop/internal/shoptest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cpufigures:", err)
		os.Exit(1)
	}
}

// window is the span the percentiles are taken over: short enough to see bursts,
// long enough that one garbage collection does not read as a spike.
const window = 10 * time.Second

func run(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("cpufigures", flag.ContinueOnError)
	duration := flags.Duration("duration", 3*time.Minute, "how long the load runs")
	rate := flags.Int("rate", 12, "shoppers arriving per second (the end-to-end test's rate)")
	root := flags.String("root", "../..", "the repository root")
	if err := flags.Parse(args); err != nil {
		return err
	}
	root2, err := filepath.Abs(*root)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *duration+10*time.Minute)
	defer cancel()

	var targets []string
	for i := range app.Registry {
		targets = append(targets, adminAddr(i))
	}
	os.Setenv("SHOP_METRICS_TARGETS", "["+strings.Join(targets, ", ")+"]")
	stackLog := &strings.Builder{}
	stack, err := localstack.Start(ctx, localstack.Config{Root: root2, BuildTools: true, Log: stackLog, ReadyTimeout: 2 * time.Minute})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, stackLog.String())
	}
	defer func() {
		stopCtx, c := context.WithTimeout(context.Background(), 30*time.Second)
		defer c()
		_ = stack.Stop(stopCtx)
	}()

	shopBin := filepath.Join(stack.DataDir, "shop")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", shopBin, "./cmd/shop")
	build.Dir = root2
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the shop: %v\n%s", err, out)
	}
	pyroscope, stopPyroscope := shoptest.NewFakePyroscope()
	defer stopPyroscope()

	prefix := "cpu" + shoptest.RandomHex(3)
	defer func() {
		st := shoptest.Stores{
			PostgresURL: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
			RedisURL:    "redis://127.0.0.1:6379/0",
			RabbitURL:   "amqp://guest:guest@127.0.0.1:5672/",
		}
		if err := shoptest.RemoveStores(st, prefix, prefix+".events", prefix+".shipping"); err != nil {
			fmt.Fprintln(os.Stderr, "cpufigures: clean up:", err)
		}
	}()
	common := []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + localstack.CollectorOTLPGRPC,
		"OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_METRIC_EXPORT_INTERVAL=10000",
		"OTEL_BSP_SCHEDULE_DELAY=1000",
		"OTEL_BLRP_SCHEDULE_DELAY=1000",
		"PYROSCOPE_SERVER_ADDRESS=" + pyroscope.URL,
		"POSTGRES_DB_PREFIX=" + prefix + "_",
		"REDIS_KEY_PREFIX=" + prefix + ":",
		"RABBITMQ_EXCHANGE=" + prefix + ".events",
		"SHIPPING_QUEUE=" + prefix + ".shipping",
		auth.SecretsDirEnv + "=" + filepath.Join(stack.DataDir, "secrets"),
		// As the end-to-end test runs it: one load generator on one address is
		// many shoppers. bcrypt keeps its production cost here, so users' CPU is
		// what registrations and logins really take.
		"RATE_LIMIT_RPS=0",
		"LOGIN_RATE_LIMIT_RPS=0",
	}
	for _, d := range app.Registry {
		addr := fmt.Sprintf("127.0.0.1:%d", testPort(d.Port))
		common = append(common, d.AddrEnv()+"="+addr, d.PeerEnv()+"="+d.PeerAddress(addr))
	}
	for i, d := range app.Registry {
		env := append([]string{app.AdminAddrEnv + "=" + adminAddr(i)}, common...)
		health := fmt.Sprintf("http://127.0.0.1:%d/readyz", testPort(d.Port))
		if d.Protocol == service.GRPC {
			health = "http://" + adminAddr(i) + "/healthz"
		}
		p := localstack.Process{Name: d.Name, Path: shopBin, Args: []string{d.Name}, Env: env, HealthURL: health}
		if _, err := stack.Run(ctx, p); err != nil {
			return fmt.Errorf("start %s: %w", d.Name, err)
		}
	}

	gateway := fmt.Sprintf("http://127.0.0.1:%d", testPort(8080))
	load := localstack.Process{Name: "loadgen", Path: shopBin, Output: io.Discard, Env: common,
		Args: []string{"loadgen", "-target", gateway, "-rate", strconv.Itoa(*rate), "-duration", duration.String()}}
	samples := newSampler()
	loadDone := make(chan error, 1)
	go func() {
		_, err := stack.RunOnce(ctx, load)
		loadDone <- err
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		samples.sample(stack.Backends())
		select {
		case err := <-loadDone:
			if err != nil {
				return fmt.Errorf("load run: %w", err)
			}
			samples.print(stdout, *rate, *duration)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func testPort(defaultPort int) int { return 10000 + defaultPort }

func adminAddr(i int) string { return fmt.Sprintf("127.0.0.1:%d", testPort(9464)+i) }

// sampler keeps, per process, its cumulative CPU seconds at each sample.
type sampler struct {
	mu     sync.Mutex
	start  time.Time
	series map[string][]point
}

type point struct {
	at  time.Duration
	cpu float64 // seconds of CPU since the process started
}

func newSampler() *sampler { return &sampler{start: time.Now(), series: map[string][]point{}} }

func (s *sampler) sample(backends []localstack.Backend) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := time.Since(s.start)
	for _, b := range backends {
		if b.Name == "loadgen" {
			continue // the client, not part of the platform
		}
		if cpu, err := procfs.CPUSeconds(b.PID, true); err == nil {
			s.series[b.Name] = append(s.series[b.Name], point{at, cpu})
		}
	}
	for store, cpu := range storeCPU() {
		s.series[store] = append(s.series[store], point{at, cpu})
	}
}

func (s *sampler) print(w io.Writer, rate int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(w, "CPU under the end-to-end load (loadgen -rate %d for %s), millicores:\n", rate, d)
	fmt.Fprintf(w, "%-15s %6s %9s %9s\n", "process", "mean", "p95 10s", "max 10s")
	for _, name := range slices.Sorted(maps.Keys(s.series)) {
		mean, p95, peak := figures(s.series[name])
		fmt.Fprintf(w, "%-15s %6.0f %9.0f %9.0f\n", name, mean, p95, peak)
	}
}

// figures returns the mean CPU over the whole series and the 95th percentile and
// maximum over its windows, in millicores. Store processes come and go (a
// PostgreSQL backend per connection), so a drop in the sum is not negative use:
// those windows are left out.
func figures(ps []point) (mean, p95, peak float64) {
	if len(ps) < 2 {
		return 0, 0, 0
	}
	var windows []float64
	var used, span float64
	for i, j := 0, 0; j < len(ps); j++ {
		if ps[j].at-ps[i].at < window {
			continue
		}
		dt := (ps[j].at - ps[i].at).Seconds()
		if dc := ps[j].cpu - ps[i].cpu; dc >= 0 {
			windows = append(windows, 1000*dc/dt)
			used, span = used+dc, span+dt
		}
		i = j
	}
	if len(windows) == 0 || span == 0 {
		return 0, 0, 0
	}
	slices.Sort(windows)
	return 1000 * used / span, windows[int(math.Ceil(0.95*float64(len(windows))))-1], windows[len(windows)-1]
}

// storeCPU sums the CPU seconds of every running process of each store.
func storeCPU() map[string]float64 {
	return procfs.SumByStore(func(pid int) (float64, error) { return procfs.CPUSeconds(pid, true) })
}
