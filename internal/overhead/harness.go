package overhead

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/internal/localstack"
	"github.com/otelshop/shop/internal/procfs"
	"github.com/otelshop/shop/internal/service"
)

// Config says what to measure and for how long.
type Config struct {
	// Root is the repository root (config files, bin/otelcol, the shop's sources).
	Root string
	// ShopBinary is the shop to run; empty builds ./cmd/shop into the data directory.
	ShopBinary string
	// Variants to run, the baseline ("off") first; Paths to drive.
	Variants []string
	Paths    []string
	// Rounds of each run per variant; the variants take turns within a round.
	Rounds int
	// Closed is each closed-model run (throughput), Open each open-model run
	// (latency at Load × capacity), Warmup the unrecorded closed run per variant
	// and path before the first round.
	Closed, Open, Warmup time.Duration
	// Settle is how long after a run its CPU is still counted: the batch
	// processors' delay and the collector's batch timeout, so what a run
	// exported is paid for within its own window.
	Settle time.Duration
	// Idle is how long every shop's CPU is read with no load, before the rounds.
	Idle time.Duration
	// Load is the open model's rate as a share of the closed model's throughput
	// (the lowest variant's median).
	Load float64
	// BasePort is where the search for a free block of ports starts (below the
	// ephemeral range; clear of compose, local mode and the end-to-end test).
	BasePort int
	// DataDir keeps every process's log and every load report; empty means a
	// temporary directory removed at the end.
	DataDir string
	// Log receives progress lines.
	Log io.Writer
	// ProfileDir, when set, gets a CPU profile of every shop process (and
	// collector) during each variant's first open run, from the admin endpoint's
	// /debug/pprof (ADMIN_PPROF=true). The continuous profiler is then off in
	// every variant (only one CPU profile can run at a time), and the figures are
	// those of a profiled shop: for finding costs, not for the table.
	ProfileDir string
}

// DefaultConfig is the full form (`make bench-overhead`).
func DefaultConfig() Config {
	return Config{
		Variants: DefaultVariants,
		Paths:    []string{"browse", "checkout"},
		Rounds:   3,
		Closed:   10 * time.Second,
		Open:     10 * time.Second,
		Warmup:   4 * time.Second,
		Settle:   3 * time.Second,
		Idle:     5 * time.Second,
		Load:     0.7,
		BasePort: 23000,
	}
}

// stride is how many ports each variant's block holds: the eight services
// (offset from 8080), their admin endpoints and its collector's five.
const (
	stride          = 32
	adminOffset     = 12
	collectorOffset = 24
)

// shop is one variant's running shop.
type shop struct {
	variant   Variant
	prefix    string // databases, keys, exchange and queue names start with it
	gateway   string // base URL
	admin     []string
	pids      map[string]int // by service
	collector int            // pid, 0 without a collector
	// collectorPprof is its pprof extension's address.
	collectorPprof string
	sink           *sink // where its signals (or its collector's) end up; nil when off
}

type harness struct {
	cfg       Config
	variants  []Variant
	paths     []Path
	stack     *localstack.Stack
	shopBin   string
	stores    service.Stores
	shops     []*shop
	http      *http.Client
	log       io.Writer
	dataDir   string
	runs      []RunResult
	idle      map[string]float64
	flagsFile string
	// loadBefore is the load average when the run began: other work on the
	// machine shows in every figure.
	loadBefore string
}

// Run starts every variant's shop, measures, stops everything and removes what
// the shops stored. The report holds every run and the summaries.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	h := &harness{cfg: cfg, log: cfg.Log, http: &http.Client{Timeout: 10 * time.Second}, idle: map[string]float64{}}
	var err error
	if h.variants, err = lookupVariants(cfg.Variants); err != nil {
		return nil, err
	}
	if h.paths, err = lookupPaths(cfg.Paths); err != nil {
		return nil, err
	}
	switch {
	case cfg.Rounds < 1:
		return nil, fmt.Errorf("rounds must be at least 1, got %d", cfg.Rounds)
	case cfg.Closed <= 0 || cfg.Open <= 0:
		return nil, fmt.Errorf("the closed and open runs need a positive duration")
	case !(cfg.Load > 0 && cfg.Load <= 1):
		return nil, fmt.Errorf("load must be in (0, 1], got %g", cfg.Load)
	}
	if cfg.Root, err = filepath.Abs(cfg.Root); err != nil {
		return nil, err
	}
	h.cfg = cfg
	started := time.Now()
	h.loadBefore = loadAverage()

	h.dataDir = cfg.DataDir
	if h.dataDir == "" {
		if h.dataDir, err = os.MkdirTemp("", "overhead-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(h.dataDir)
	}
	h.stores = service.LoadStores(service.NewEnv(os.Getenv))
	if err := h.connectionsFit(ctx); err != nil { // before minutes of building
		return nil, err
	}
	if err := h.tools(ctx); err != nil {
		return nil, err
	}
	if h.stack, err = localstack.Processes(localstack.Config{Root: cfg.Root, DataDir: h.dataDir, Log: cfg.Log, ReadyTimeout: 2 * time.Minute}); err != nil {
		return nil, err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.stack.Stop(stopCtx); err != nil {
			fmt.Fprintln(h.log, "overhead: stop:", err)
		}
		for _, s := range h.shops {
			if s.sink != nil {
				s.sink.stop()
			}
		}
		if err := h.removeStores(); err != nil {
			fmt.Fprintln(h.log, "overhead: clean up:", err)
		}
	}()
	if err := h.startShops(ctx); err != nil {
		return nil, err
	}
	if err := h.measure(ctx); err != nil {
		return nil, err
	}
	return h.report(started), nil
}

// tools builds the collector (a second when it is up to date) and the shop.
func (h *harness) tools(ctx context.Context) error {
	if slices.ContainsFunc(h.variants, func(v Variant) bool { return v.exports == exportCollector }) {
		build := exec.CommandContext(ctx, "bash", filepath.Join(h.cfg.Root, "tools", "build.sh"), "otelcol")
		build.Dir = h.cfg.Root
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("build the collector (tools/build.sh otelcol): %v\n%s", err, out)
		}
	}
	h.shopBin = h.cfg.ShopBinary
	if h.shopBin != "" {
		return nil
	}
	h.shopBin = filepath.Join(h.dataDir, "shop")
	fmt.Fprintln(h.log, "overhead: building the shop")
	// As the Dockerfile builds it.
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", h.shopBin, "./cmd/shop")
	build.Dir = h.cfg.Root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the shop: %v\n%s", err, out)
	}
	return nil
}

// startShops starts each variant's shop, and collector where it has one, on a
// block of free ports.
func (h *harness) startShops(ctx context.Context) error {
	base, err := freeBlock(h.cfg.BasePort, stride*len(h.variants))
	if err != nil {
		return err
	}
	if err := h.flagFile(); err != nil {
		return err
	}
	run := "ovh" + randomLetters(6)
	for i, v := range h.variants {
		s := &shop{variant: v, prefix: run + v.Name, pids: map[string]int{}}
		h.shops = append(h.shops, s)
		if err := h.startShop(ctx, s, base+i*stride); err != nil {
			return fmt.Errorf("%s: %w", v.Name, err)
		}
		if err := h.topUpStock(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", v.Name, err)
		}
	}
	return nil
}

func (h *harness) startShop(ctx context.Context, s *shop, base int) error {
	port := func(defaultPort int) int { return base + defaultPort - 8080 }
	adminAddr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(base+adminOffset+i) }
	for i := range app.Registry {
		s.admin = append(s.admin, adminAddr(i))
	}
	s.gateway = fmt.Sprintf("http://127.0.0.1:%d", port(8080))
	env := []string{
		"POSTGRES_DB_PREFIX=" + s.prefix + "_",
		"REDIS_KEY_PREFIX=" + s.prefix + ":",
		"RABBITMQ_EXCHANGE=" + s.prefix + ".events",
		"SHIPPING_QUEUE=" + s.prefix + ".shipping",
		auth.SecretsDirEnv + "=" + filepath.Join(h.dataDir, s.variant.Name, "secrets"),
		"DEPLOYMENT_ENVIRONMENT=overhead",
		flags.FileEnv + "=" + h.flagsFile,
		// One load generator on one address is many shoppers, and bcrypt at its
		// production cost would make checkout a benchmark of password hashing;
		// the closed model's 32 shoppers signing in at once would fill the
		// hashing queue of the default single worker on 2 cores (16 waiting,
		// then 503 busy).
		"RATE_LIMIT_RPS=0", "LOGIN_RATE_LIMIT_RPS=0", "BCRYPT_COST=4", "BCRYPT_WORKERS=4",
	}
	if s.variant.exports != exportNowhere {
		var err error
		if s.sink, err = startSink(); err != nil {
			return err
		}
		// Profiles go straight to Pyroscope in compose too, never through the collector.
		env = append(env, "PYROSCOPE_SERVER_ADDRESS="+s.sink.HTTPURL, "BROWSER_TRACES_URL="+s.sink.HTTPURL+"/v1/traces")
	}
	if h.cfg.ProfileDir != "" {
		env = append(env, "ADMIN_PPROF=true", "PYROSCOPE_SERVER_ADDRESS=")
	}
	switch s.variant.exports {
	case exportSink:
		env = append(env, "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+s.sink.GRPCAddr)
	case exportCollector:
		grpcAddr, err := h.startCollector(ctx, s, base+collectorOffset)
		if err != nil {
			return err
		}
		env = append(env, "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+grpcAddr)
	}
	env = append(env, s.variant.Env...)
	fmt.Fprintf(h.log, "overhead: starting the %s shop on %s\n", s.variant.Name, s.gateway)
	err := h.stack.RunShop(ctx, localstack.ShopConfig{Binary: h.shopBin, Env: env, Port: port, AdminAddr: adminAddr,
		Adjust: func(p *localstack.Process) { p.Name = s.variant.Name + "-" + p.Name }})
	if err != nil {
		return err
	}
	for _, b := range h.stack.Backends() {
		if name, ok := strings.CutPrefix(b.Name, s.variant.Name+"-"); ok && name != "collector" {
			s.pids[name] = b.PID
		}
	}
	if len(s.pids) != len(app.Registry) {
		return fmt.Errorf("%d shop processes running, want %d", len(s.pids), len(app.Registry))
	}
	return nil
}

// startCollector runs the project's collector for one shop: otel-collector.yaml
// as compose runs it (logs to Loki over OTLP, not local mode's file), its ports
// moved into the variant's block, and every exporter sending to the shop's sink.
func (h *harness) startCollector(ctx context.Context, s *shop, base int) (string, error) {
	grpcAddr := "127.0.0.1:" + strconv.Itoa(base)
	httpAddr := "127.0.0.1:" + strconv.Itoa(base+1)
	health := "127.0.0.1:" + strconv.Itoa(base+2)
	pprof := "127.0.0.1:" + strconv.Itoa(base+3)
	ownMetrics := base + 4
	mainConfig := filepath.Join(h.cfg.Root, "otel-collector.yaml")
	overlay, err := portsOverlay(mainConfig, grpcAddr, httpAddr, health, pprof, ownMetrics, s.admin)
	if err != nil {
		return "", err
	}
	overlayFile := filepath.Join(h.dataDir, s.variant.Name+"-collector-ports.yaml")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		return "", err
	}
	args := []string{"--config", mainConfig}
	for _, o := range s.variant.overlays {
		args = append(args, "--config", filepath.Join(h.cfg.Root, o))
	}
	args = append(args, "--config", overlayFile)
	b, err := h.stack.Run(ctx, localstack.Process{
		Name: s.variant.Name + "-collector", Path: filepath.Join(h.cfg.Root, "bin", "otelcol"), Args: args,
		Env: []string{
			"JAEGER_OTLP_ENDPOINT=" + s.sink.GRPCAddr,
			"PROMETHEUS_OTLP_ENDPOINT=" + s.sink.HTTPURL + "/prometheus",
			"LOKI_OTLP_ENDPOINT=" + s.sink.HTTPURL + "/loki",
			"DEPLOYMENT_ENVIRONMENT=overhead",
		},
		HealthURL: "http://" + health + "/",
	})
	if err != nil {
		return "", err
	}
	s.collector, s.collectorPprof = b.PID, pprof
	return grpcAddr, nil
}

// flagFile is a copy of deploy/flags/shop.flags.json with every fault off: the
// drills switch faults in the repository's own file, which local mode reads,
// and a fault left on would be measured as if it were telemetry.
func (h *harness) flagFile() error {
	data, err := os.ReadFile(filepath.Join(h.cfg.Root, "deploy", "flags", "shop.flags.json"))
	if err != nil {
		return err
	}
	h.flagsFile = filepath.Join(h.dataDir, "shop.flags.json")
	if err := os.WriteFile(h.flagsFile, data, 0o644); err != nil {
		return err
	}
	changed, err := flags.Reset(h.flagsFile, app.Faults())
	if err != nil {
		return fmt.Errorf("turn every fault off: %w", err)
	}
	if len(changed) > 0 {
		fmt.Fprintf(h.log, "overhead: deploy/flags/shop.flags.json has faults on (%s); the shops run with every fault off\n", strings.Join(changed, ", "))
	}
	return nil
}

// topUpStock gives every product a million units, so that no checkout run of
// any variant sells out (a sold-out checkout is cheaper than a placed one, and
// the faster variant would sell out first). It goes in the stock ledger as an
// operator's change would.
func (h *harness) topUpStock(ctx context.Context, s *shop) error {
	dbURL, err := withDatabase(h.stores.PostgresURL, s.prefix+"_inventory")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("top up stock: %w", err)
	}
	defer conn.Close(ctx)
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		const units = 1_000_000
		if _, err := tx.Exec(ctx, `INSERT INTO stock_adjustments (product_id, delta, reason)
			SELECT product_id, $1 - available, 'set' FROM stock WHERE available < $1`, units); err != nil {
			return fmt.Errorf("top up stock: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE stock SET available = $1, updated_at = now() WHERE available < $1`, units); err != nil {
			return fmt.Errorf("top up stock: %w", err)
		}
		return nil
	})
}

// measure warms every shop up, reads their idle CPU, then runs the rounds.
func (h *harness) measure(ctx context.Context) error {
	for _, p := range h.paths {
		for _, s := range h.shops {
			if h.cfg.Warmup <= 0 {
				break
			}
			fmt.Fprintf(h.log, "overhead: warming up %s on %s\n", s.variant.Name, p.Name)
			if _, err := h.load(ctx, s, p, closedArgs(p, h.cfg.Warmup)); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
		}
	}
	if err := h.measureIdle(ctx); err != nil {
		return err
	}
	for _, p := range h.paths {
		for r := range h.cfg.Rounds {
			for _, s := range h.order(r) {
				if err := h.run(ctx, s, p, "closed", r, 0); err != nil {
					return err
				}
			}
		}
		rate := h.openRate(p)
		if rate <= 0 {
			return fmt.Errorf("%s: no throughput measured in the closed runs", p.Name)
		}
		for r := range h.cfg.Rounds {
			for _, s := range h.order(r) {
				if err := h.run(ctx, s, p, "open", r, rate); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// order is the variants' turn in round r: rotated, so that none always runs
// first (after the idle gap) or last.
func (h *harness) order(r int) []*shop {
	n := len(h.shops)
	out := make([]*shop, n)
	for i := range n {
		out[i] = h.shops[(i+r)%n]
	}
	return out
}

// openRate is Load times the lowest variant's median closed-model throughput:
// the same arrival rate for every variant, below what each can take.
func (h *harness) openRate(p Path) float64 {
	lowest := 0.0
	for _, s := range h.shops {
		var rps []float64
		for _, r := range h.runs {
			if r.Variant == s.variant.Name && r.Path == p.Name && r.Mode == "closed" {
				rps = append(rps, r.RPS)
			}
		}
		if m := median(rps); lowest == 0 || m < lowest {
			lowest = m
		}
	}
	return float64(int(h.cfg.Load*lowest + 0.5))
}

func closedArgs(p Path, d time.Duration) []string {
	return []string{"-mode", "closed", "-vus", strconv.Itoa(p.VUs), "-think", "0", "-duration", d.String()}
}

func openArgs(rate float64, d time.Duration) []string {
	return []string{"-mode", "open", "-arrival", "requests", "-rate", strconv.FormatFloat(rate, 'f', 0, 64),
		"-think", "0", "-duration", d.String(), "-max-concurrency", "256"}
}

// sample is what the counters of one shop said at one moment.
type sample struct {
	at        time.Time
	cpu       map[string]float64 // by service
	collector float64
	mem       memStats
	exported  map[string]int64
}

func (h *harness) sample(ctx context.Context, s *shop) (sample, error) {
	out := sample{at: time.Now(), cpu: map[string]float64{}}
	for name, pid := range s.pids {
		c, err := procfs.CPUSeconds(pid, false)
		if err != nil {
			return out, fmt.Errorf("%s %s: %w", s.variant.Name, name, err)
		}
		out.cpu[name] = c
	}
	if s.collector != 0 {
		c, err := procfs.CPUSeconds(s.collector, false)
		if err != nil {
			return out, fmt.Errorf("%s collector: %w", s.variant.Name, err)
		}
		out.collector = c
	}
	for _, addr := range s.admin {
		m, err := readMemStats(ctx, h.http, addr)
		if err != nil {
			return out, fmt.Errorf("%s: %w", s.variant.Name, err)
		}
		out.mem.Mallocs += m.Mallocs
		out.mem.Bytes += m.Bytes
	}
	if s.sink != nil {
		out.exported = s.sink.received()
	}
	return out, nil
}

// measureIdle reads every shop's CPU with no load at all.
func (h *harness) measureIdle(ctx context.Context) error {
	if h.cfg.Idle <= 0 {
		return nil
	}
	fmt.Fprintf(h.log, "overhead: reading idle CPU for %s\n", h.cfg.Idle)
	before := make([]sample, len(h.shops))
	for i, s := range h.shops {
		var err error
		if before[i], err = h.sample(ctx, s); err != nil {
			return err
		}
	}
	if err := service.Sleep(ctx, h.cfg.Idle); err != nil {
		return err
	}
	for i, s := range h.shops {
		after, err := h.sample(ctx, s)
		if err != nil {
			return err
		}
		h.idle[s.variant.Name] = (sum(after.cpu) - sum(before[i].cpu)) / after.at.Sub(before[i].at).Seconds()
	}
	return nil
}

// run is one measured load run of one shop.
func (h *harness) run(ctx context.Context, s *shop, p Path, mode string, round int, rate float64) error {
	args := closedArgs(p, h.cfg.Closed)
	if mode == "open" {
		args = openArgs(rate, h.cfg.Open)
	}
	before, err := h.sample(ctx, s)
	if err != nil {
		return err
	}
	var profiled sync.WaitGroup
	if h.cfg.ProfileDir != "" && mode == "open" && round == 0 {
		profiled.Go(func() { h.profile(ctx, s, p, h.cfg.Open) })
	}
	sum, err := h.load(ctx, s, p, args)
	profiled.Wait()
	if err != nil {
		return fmt.Errorf("%s %s %s round %d: %w", s.variant.Name, p.Name, mode, round+1, err)
	}
	if err := service.Sleep(ctx, h.cfg.Settle); err != nil {
		return err
	}
	after, err := h.sample(ctx, s)
	if err != nil {
		return err
	}
	r := RunResult{
		Variant: s.variant.Name, Path: p.Name, Mode: mode, Round: round + 1, Rate: rate,
		Requests: sum.Requests, Errors: sum.Errors, ErrorsWhere: sum.errorsWhere(), RPS: sum.RPS, MissedStarts: sum.MissedStarts,
		P50ms: sum.Latency.P50, P99ms: sum.Latency.P99,
		WindowSec:  after.at.Sub(before.at).Seconds(),
		ProcessCPU: map[string]float64{},
		Mallocs:    after.mem.Mallocs - before.mem.Mallocs,
		AllocBytes: after.mem.Bytes - before.mem.Bytes,
		Exported:   map[string]int64{},
		Collector:  s.collector != 0,
	}
	for name, c := range after.cpu {
		r.ProcessCPU[name] = c - before.cpu[name]
		r.ShopCPU += c - before.cpu[name]
	}
	if s.collector != 0 {
		r.CollectorCPU = after.collector - before.collector
	}
	for k, v := range after.exported {
		r.Exported[k] = v - before.exported[k]
	}
	h.runs = append(h.runs, r)
	fmt.Fprintf(h.log, "overhead: %-9s %-8s %-6s round %d: %s\n", s.variant.Name, p.Name, mode, round+1, r.line())
	return nil
}

// profile saves a CPU profile of every process of the shop, and of its
// collector, taken while the load runs.
func (h *harness) profile(ctx context.Context, s *shop, p Path, d time.Duration) {
	seconds := max(1, int((d - 2*time.Second).Seconds()))
	targets := map[string]string{}
	for i, def := range app.Registry {
		for _, kind := range []string{"profile", "allocs"} {
			targets[def.Name+"-"+kind] = "http://" + s.admin[i] + "/debug/pprof/" + kind + "?seconds=" + strconv.Itoa(seconds)
		}
	}
	if s.collectorPprof != "" {
		targets["collector-profile"] = "http://" + s.collectorPprof + "/debug/pprof/profile?seconds=" + strconv.Itoa(seconds)
	}
	if err := os.MkdirAll(h.cfg.ProfileDir, 0o755); err != nil {
		fmt.Fprintln(h.log, "overhead: profiles:", err)
		return
	}
	client := &http.Client{Timeout: time.Duration(seconds+20) * time.Second}
	var wg sync.WaitGroup
	for name, u := range targets {
		wg.Go(func() {
			// The load generator starts with its product discovery: let the run begin.
			if service.Sleep(ctx, time.Second) != nil {
				return
			}
			file := filepath.Join(h.cfg.ProfileDir, fmt.Sprintf("%s-%s-%s.pb.gz", s.variant.Name, p.Name, name))
			if err := download(ctx, client, u, file); err != nil {
				fmt.Fprintf(h.log, "overhead: profile of %s %s: %v\n", s.variant.Name, name, err)
			}
		})
	}
	wg.Wait()
}

func download(ctx context.Context, client *http.Client, u, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// loadSummary is the part of the load generator's -json summary the harness reads
// (loadtest/internal/report.Summary).
type loadSummary struct {
	Requests     int64   `json:"requests"`
	Errors       int64   `json:"errors"`
	RPS          float64 `json:"rps"`
	MissedStarts int64   `json:"missed_starts"`
	Latency      struct {
		P50 float64 `json:"p50"`
		P99 float64 `json:"p99"`
	} `json:"latency_ms"`
	Endpoints []struct {
		Name         string           `json:"name"`
		ErrorsByKind map[string]int64 `json:"errors_by_kind"`
	} `json:"endpoints"`
}

// errorsWhere counts the run's errors by endpoint and kind ("checkout: conflict").
func (s loadSummary) errorsWhere() map[string]int64 {
	out := map[string]int64{}
	for _, e := range s.Endpoints {
		for kind, n := range e.ErrorsByKind {
			if n > 0 {
				out[e.Name+": "+kind] += n
			}
		}
	}
	return out
}

var loadRuns int

// load runs the load generator, without telemetry of its own (the same for every
// variant: its requests carry no trace context, so each trace starts at the
// gateway), against one shop.
func (h *harness) load(ctx context.Context, s *shop, p Path, args []string) (loadSummary, error) {
	loadRuns++
	report := filepath.Join(h.dataDir, fmt.Sprintf("load-%03d-%s-%s.json", loadRuns, s.variant.Name, p.Name))
	var out bytes.Buffer
	args = append([]string{"loadgen", "-target", s.gateway, "-mix", p.Mix, "-grace", "2s", "-json", report}, args...)
	_, err := h.stack.RunOnce(ctx, localstack.Process{Name: "loadgen", Path: h.shopBin, Args: args, Output: &out,
		Env: []string{"OTEL_SDK_DISABLED=true", "CI=true"}})
	if err != nil {
		return loadSummary{}, fmt.Errorf("load generator: %w\n%s", err, out.String())
	}
	data, err := os.ReadFile(report)
	if err != nil {
		return loadSummary{}, err
	}
	var sum loadSummary
	if err := json.Unmarshal(data, &sum); err != nil {
		return loadSummary{}, fmt.Errorf("%s: %w", report, err)
	}
	if sum.Requests == 0 {
		return sum, fmt.Errorf("the load generator completed no request\n%s", out.String())
	}
	return sum, nil
}

// removeStores drops what the shops stored: their databases, Redis keys,
// queues and exchanges.
func (h *harness) removeStores() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	for _, s := range h.shops {
		st := h.stores
		st.DatabasePrefix, st.KeyPrefix, st.Exchange = s.prefix+"_", s.prefix+":", s.prefix+".events"
		errs = append(errs, app.RemoveStores(ctx, st, s.prefix+".shipping"))
	}
	return errors.Join(errs...)
}

// connectionsFit refuses a run whose shops would open more PostgreSQL connections
// than the server takes: the shops started last would answer 5xx for want of a
// connection, and their figures would measure that, not telemetry (five shops on a
// server of 100 did). Each service with a database opens a pool of up to
// max(4, cores) connections, pgx's default. What other clients hold is not counted:
// it changes from moment to moment.
func (h *harness) connectionsFit(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, h.stores.PostgresURL)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	var limit, reserved int
	err = conn.QueryRow(ctx, `SELECT current_setting('max_connections')::int,
		current_setting('superuser_reserved_connections')::int`).Scan(&limit, &reserved)
	if err != nil {
		return fmt.Errorf("postgres: read max_connections: %w", err)
	}
	databases := 0
	for _, d := range app.Registry {
		if slices.Contains(d.Stores, service.Postgres) {
			databases++
		}
	}
	need := len(h.variants) * databases * max(4, runtime.NumCPU())
	if usable := limit - reserved; need > usable {
		return fmt.Errorf("%d shops need up to %d PostgreSQL connections and the server takes %d (max_connections %d, %d reserved): run fewer variants at once or raise max_connections",
			len(h.variants), need, usable, limit, reserved)
	}
	return nil
}

// freeBlock finds n consecutive free loopback ports from base up, in steps of
// n, below the ephemeral range (32768 on Linux) so that no outgoing connection
// takes one meanwhile.
func freeBlock(base, n int) (int, error) {
	for start := base; start+n < 32768; start += n {
		free := true
		for p := start; p < start+n && free; p++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				free = false
				continue
			}
			l.Close()
		}
		if free {
			return start, nil
		}
	}
	return 0, fmt.Errorf("no %d free ports in a row from %d up", n, base)
}

func withDatabase(serverURL, db string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("parse postgres url: %w", err)
	}
	u.Path = "/" + db
	return u.String(), nil
}

// randomLetters names a run: letters only, so that no check for ids or long
// numbers mistakes a database name (a pool metric's attribute) for one.
func randomLetters(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	return string(b)
}

func sum(m map[string]float64) float64 {
	var t float64
	for _, v := range m {
		t += v
	}
	return t
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
