// Package localstack runs the shop's telemetry backends, the OpenTelemetry
// Collector (tools/otelcol), Jaeger and Prometheus, as local processes on
// loopback ports, for development and end-to-end tests on machines without
// Docker. They read the same config files compose.yaml mounts
// (otel-collector.yaml plus the otel-collector.local.yaml overlay,
// deploy/jaeger/config.yaml, deploy/prometheus/prometheus.yml), whose
// env-var defaults are the loopback addresses below.
//
// Grafana, Loki and Pyroscope cannot run this way: the collector writes logs
// to a file (Stack.LogsFile) instead of Loki, and internal/standin serves, on
// Loki's and Pyroscope's ports, what the shop's links and drills ask of them:
// Loki's query_range over that file, and Pyroscope's ingest and render.
//
// A Stack owns every process it starts and its data directory; Stop ends
// them in reverse order of start. Only one Stack runs on a machine at a time
// (the ports are fixed): Start waits for another to stop.
package localstack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/otelshop/shop/internal/standin"
)

// Addresses of the backends, fixed by the config files' defaults.
const (
	CollectorOTLPGRPC = "127.0.0.1:4317"        // OTLP gRPC: what the shop's OTEL_EXPORTER_OTLP_ENDPOINT points at
	CollectorOTLPHTTP = "http://127.0.0.1:4318" // OTLP HTTP
	JaegerURL         = "http://127.0.0.1:16686"
	PrometheusURL     = "http://127.0.0.1:9090"
	PyroscopeURL      = "http://127.0.0.1:4040" // the profile stand-in: PYROSCOPE_SERVER_ADDRESS
	LokiURL           = "http://127.0.0.1:3100" // the log stand-in

	collectorHealthURL  = "http://127.0.0.1:13133/"
	jaegerHealthURL     = "http://127.0.0.1:14133/status"
	prometheusHealthURL = PrometheusURL + "/-/ready"
)

// jaegerNoSelfTracing stops Jaeger 2.0's query service from tracing itself:
// it exports its own spans to the default OTLP endpoint, localhost:4317,
// which is the shop's collector here; they would mix a "jaeger" service into
// the shop's traces and spanmetrics, and on shutdown Jaeger waits 10 seconds
// trying to flush them to a collector already stopped.
const jaegerNoSelfTracing = "OTEL_TRACES_SAMPLER=always_off"

// ports are every loopback port the three backends listen on; Start refuses
// to run when one is taken rather than failing halfway.
var ports = []string{
	"4317", "4318", "13133", "1777", "8888", // collector: OTLP, health, pprof, own metrics
	"14317", "14318", "16686", "16685", "14133", "18888", // jaeger: OTLP, query, health, own metrics
	"9090",         // prometheus
	"4040", "3100", // the Pyroscope and Loki stand-ins
}

// Config says where the repository is and how to run.
type Config struct {
	// Root is the repository root: the config files and bin/ are read from it.
	Root string
	// DataDir holds Prometheus's TSDB, the collector's log file and every
	// process's output. Empty means a temporary directory that Stop removes.
	DataDir string
	// BuildTools runs tools/build.sh first, which builds what bin/ lacks or
	// has out of date (minutes on a fresh machine, a second otherwise).
	// Without it a missing binary is an error.
	BuildTools bool
	// Log receives progress messages and the build's output; nil discards them.
	Log io.Writer
	// ReadyTimeout bounds each backend's start; zero means one minute.
	ReadyTimeout time.Duration
	// Adjust, when set, may change each backend's Process before it starts
	// (the end-to-end test gives each the memory limit of its container).
	Adjust func(*Process)
	// MetricsTargets is the YAML list of admin endpoints the collector scrapes
	// (SHOP_METRICS_TARGETS); empty means RunShop's defaults.
	MetricsTargets string
}

// Process describes one process a Stack runs.
type Process struct {
	Name string
	Path string
	Args []string
	// Env is added to this process's own environment.
	Env []string
	// Dir is the working directory; empty means the stack's data directory.
	Dir string
	// HealthURL answers 2xx once the process is ready; empty means ready at once.
	HealthURL string
	// URL is what a person or a test opens; informational.
	URL string
	// ComposeService is the compose.yaml service this process stands in for,
	// when there is one; informational.
	ComposeService string
	// Output receives stdout and stderr; nil means DataDir/<Name>.log.
	Output io.Writer
	// Stderr, when set with Output, receives stderr instead.
	Stderr io.Writer
	// MemoryLimit, when positive, runs the process in a memory cgroup of its
	// own limited to this many bytes, as a container limit would
	// (MemoryLimitsSupported says whether this machine allows it).
	MemoryLimit int64
}

// Backend is a running process as reported to callers.
type Backend struct {
	Name       string
	URL        string
	PID        int
	LogFile    string        // empty when Process.Output was given
	ReadyAfter time.Duration // from start until HealthURL answered
}

// Stack is a set of running processes; the zero value is not usable, call Start.
type Stack struct {
	// DataDir is where data and logs go.
	DataDir string
	// LogsFile is where the collector writes the logs it receives (JSON lines,
	// one OTLP ExportLogsServiceRequest each).
	LogsFile string
	// Profiles is what the Pyroscope stand-in was sent.
	Profiles *standin.Profiles

	standins    []*http.Server
	cfg         Config
	ownsDataDir bool
	unlock      func()
	exited      chan *process

	mu    sync.Mutex
	procs []*process
}

type process struct {
	spec       Process
	cmd        *exec.Cmd
	logFile    string
	closeLog   func() error
	readyAfter time.Duration

	done     chan struct{} // closed when the process has exited
	waitErr  error         // valid after done is closed
	stopping bool          // guarded by Stack.mu; an exit after Stop is expected

	memory     *memoryCgroup // nil unless Process.MemoryLimit was set
	finalUsage MemoryUsage   // the cgroup's figures at exit; valid after done is closed
}

// complete fills in the defaults and makes Root absolute.
func (cfg *Config) complete() error {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = time.Minute
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return fmt.Errorf("repository root %q: %w", cfg.Root, err)
	}
	cfg.Root = root
	return nil
}

// Start builds the tools if asked, then starts Prometheus, Jaeger and the
// collector, in that order (each one's consumer after it), waiting until
// each answers its health check. On error everything started is stopped.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	if err := cfg.complete(); err != nil {
		return nil, err
	}
	root := cfg.Root
	if _, err := os.Stat(filepath.Join(root, "otel-collector.yaml")); err != nil {
		return nil, fmt.Errorf("%s is not the shop repository root: %w", root, err)
	}

	if cfg.BuildTools {
		if err := BuildTools(ctx, root, cfg.Log); err != nil {
			return nil, err
		}
	}
	bin := filepath.Join(root, "bin")
	for _, tool := range []string{"otelcol", "jaeger", "prometheus"} {
		if _, err := os.Stat(filepath.Join(bin, tool)); err != nil {
			return nil, fmt.Errorf("%s not built (run `make tools` or tools/build.sh): %w", tool, err)
		}
	}

	unlock, err := lockMachine(ctx, cfg.Log)
	if err != nil {
		return nil, err
	}
	s := &Stack{cfg: cfg, unlock: unlock, exited: make(chan *process, 16)}
	defer func() {
		if err != nil {
			stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			_ = s.Stop(stopCtx)
		}
	}()
	if err := portsFree(); err != nil {
		return nil, err
	}

	s.DataDir = cfg.DataDir
	if s.DataDir == "" {
		if s.DataDir, err = os.MkdirTemp("", "localstack-"); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		s.ownsDataDir = true
	} else if err := os.MkdirAll(s.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	s.LogsFile = filepath.Join(s.DataDir, "collector-logs.jsonl")
	s.Profiles = &standin.Profiles{}
	for addr, h := range map[string]http.Handler{PyroscopeURL: s.Profiles, LokiURL: &standin.Logs{File: s.LogsFile}} {
		if err := s.serveStandIn(strings.TrimPrefix(addr, "http://"), h); err != nil {
			return nil, err
		}
	}

	backends := []Process{
		{
			Name: "prometheus",
			Path: filepath.Join(bin, "prometheus"),
			Args: []string{
				"--config.file=" + filepath.Join(root, "deploy", "prometheus", "prometheus.yml"),
				"--storage.tsdb.path=" + filepath.Join(s.DataDir, "prometheus"),
				"--storage.tsdb.retention.time=1d",
				"--web.listen-address=127.0.0.1:9090",
				"--web.enable-otlp-receiver",
				"--enable-feature=exemplar-storage",
			},
			HealthURL:      prometheusHealthURL,
			URL:            PrometheusURL,
			ComposeService: "prometheus",
		},
		{
			Name:           "jaeger",
			Path:           filepath.Join(bin, "jaeger"),
			Args:           []string{"--config", filepath.Join(root, "deploy", "jaeger", "config.yaml")},
			Env:            []string{jaegerNoSelfTracing},
			HealthURL:      jaegerHealthURL,
			URL:            JaegerURL,
			ComposeService: "jaeger",
		},
		{
			Name: "collector",
			Path: filepath.Join(bin, "otelcol"),
			Args: []string{
				"--config", filepath.Join(root, "otel-collector.yaml"),
				"--config", filepath.Join(root, "otel-collector.local.yaml"),
			},
			Env:            []string{"OTELCOL_LOGS_FILE=" + s.LogsFile, "SHOP_METRICS_TARGETS=" + cmp.Or(cfg.MetricsTargets, MetricsTargets(nil))},
			HealthURL:      collectorHealthURL,
			URL:            "grpc://" + CollectorOTLPGRPC,
			ComposeService: "otel-collector",
		},
	}
	for _, p := range backends {
		if cfg.Adjust != nil {
			cfg.Adjust(&p)
		}
		if _, err := s.Run(ctx, p); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Processes returns a stack that starts no backend, serves no stand-in and takes
// no machine-wide lock: it runs only what Run and RunShop are given, on ports the
// caller chooses, so it can run beside a local mode (cmd/overhead runs shops and
// a collector of its own this way). Stop ends its processes.
func Processes(cfg Config) (_ *Stack, err error) {
	if err := cfg.complete(); err != nil {
		return nil, err
	}
	s := &Stack{cfg: cfg, exited: make(chan *process, 64), DataDir: cfg.DataDir}
	if s.DataDir == "" {
		if s.DataDir, err = os.MkdirTemp("", "processes-"); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		s.ownsDataDir = true
	} else if err := os.MkdirAll(s.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	return s, nil
}

// serveStandIn serves h on addr until Stop.
func (s *Stack) serveStandIn(addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("stand-in on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.standins = append(s.standins, srv)
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// BuildTools runs tools/build.sh for the three backends; it skips what is up
// to date. The build's output goes to log.
func BuildTools(ctx context.Context, root string, log io.Writer) error {
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "tools", "build.sh"), "otelcol", "prometheus", "jaeger")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = log, log
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build tools with tools/build.sh: %w", err)
	}
	fmt.Fprintf(log, "localstack: tools ready in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// Run starts one more process owned by the stack and waits until its health
// URL answers. Stop ends it before the processes started earlier.
func (s *Stack) Run(ctx context.Context, spec Process) (Backend, error) {
	p, err := s.start(ctx, spec, false)
	if err != nil {
		return Backend{}, err
	}
	return p.backend(), nil
}

// start starts a process and waits until it is healthy; oneShot marks its exit
// as expected.
func (s *Stack) start(ctx context.Context, spec Process, oneShot bool) (*process, error) {
	p := &process{spec: spec, done: make(chan struct{}), stopping: oneShot}
	path, args := spec.Path, spec.Args
	if spec.MemoryLimit > 0 {
		cg, err := newMemoryCgroup(spec.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: memory limit: %w", spec.Name, err)
		}
		if err := cg.setLimit(spec.MemoryLimit); err != nil {
			cg.remove()
			return nil, fmt.Errorf("%s: memory limit: %w", spec.Name, err)
		}
		p.memory = cg
		// A container faults its program in from the image and is charged for
		// those pages; a binary just built here sits in the page cache charged
		// to whoever wrote it. Evicted, it is charged to this process again.
		if err := evictFromPageCache(spec.Path); err != nil {
			cg.remove()
			return nil, fmt.Errorf("%s: %w", spec.Name, err)
		}
		// The shell joins the cgroup and then becomes the process (same pid), so
		// not one allocation of the process escapes the limit.
		path, args = "/bin/sh", append([]string{"-c", `echo $$ > "$0" && exec "$@"`, cg.procsFile(), spec.Path}, spec.Args...)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Dir = spec.Dir
	if cmd.Dir == "" {
		cmd.Dir = s.DataDir
	}
	// Own process group: Ctrl-C in a terminal reaches only the owner, which
	// then stops the processes in order. Pdeathsig ends them if the owner dies
	// without stopping them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if spec.Output != nil {
		cmd.Stdout, cmd.Stderr = spec.Output, spec.Output
		if spec.Stderr != nil {
			cmd.Stderr = spec.Stderr
		}
		p.closeLog = func() error { return nil }
	} else {
		p.logFile = filepath.Join(s.DataDir, spec.Name+".log")
		f, err := os.Create(p.logFile)
		if err != nil {
			if p.memory != nil {
				p.memory.remove()
			}
			return nil, fmt.Errorf("create log file for %s: %w", spec.Name, err)
		}
		cmd.Stdout, cmd.Stderr = f, f
		p.closeLog = f.Close
	}
	p.cmd = cmd

	start := time.Now()
	if err := cmd.Start(); err != nil {
		_ = p.closeLog()
		if p.memory != nil {
			p.memory.remove()
		}
		return nil, fmt.Errorf("start %s (%s): %w", spec.Name, spec.Path, err)
	}
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	go s.reap(p)
	fmt.Fprintf(s.cfg.Log, "localstack: started %s (pid %d)\n", spec.Name, cmd.Process.Pid)

	if spec.HealthURL != "" {
		if err := waitHealthy(ctx, p, s.cfg.ReadyTimeout); err != nil {
			return nil, fmt.Errorf("%s: %w%s", spec.Name, err, p.logTail())
		}
	}
	p.readyAfter = time.Since(start)
	fmt.Fprintf(s.cfg.Log, "localstack: %s ready after %s\n", spec.Name, p.readyAfter.Round(time.Millisecond))
	return p, nil
}

// RunOnce runs a process of the stack to completion (a load run, say) and
// returns how it exited and, when it ran under a memory limit, what its cgroup
// saw. Its exit is expected: Wait does not report it.
func (s *Stack) RunOnce(ctx context.Context, spec Process) (MemoryUsage, error) {
	spec.HealthURL = ""
	p, err := s.start(ctx, spec, true)
	if err != nil {
		return MemoryUsage{}, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = p.stop(context.Background())
	}
	if p.waitErr != nil {
		return p.finalUsage, fmt.Errorf("%s: %w%s", spec.Name, p.waitErr, p.logTail())
	}
	return p.finalUsage, nil
}

// reap waits for the process to exit and reports an unexpected exit to Wait.
func (s *Stack) reap(p *process) {
	p.waitErr = p.cmd.Wait()
	_ = p.closeLog()
	if p.memory != nil {
		p.finalUsage, _ = p.memory.usage()
		p.memory.remove()
	}
	close(p.done)
	s.mu.Lock()
	expected := p.stopping
	s.mu.Unlock()
	if !expected {
		select {
		case s.exited <- p:
		default: // nobody is listening and the buffer is full; Wait reads procs too
		}
	}
}

// Backends lists the running processes in start order.
func (s *Stack) Backends() []Backend {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Backend, 0, len(s.procs))
	for _, p := range s.procs {
		select {
		case <-p.done:
		default:
			out = append(out, p.backend())
		}
	}
	return out
}

// MemoryUsage reports what the memory cgroup of the named process saw so far
// (or until it exited); an error when it runs without a memory limit.
func (s *Stack) MemoryUsage(name string) (MemoryUsage, error) {
	s.mu.Lock()
	var p *process
	for _, q := range s.procs {
		if q.spec.Name == name {
			p = q
		}
	}
	s.mu.Unlock()
	switch {
	case p == nil:
		return MemoryUsage{}, fmt.Errorf("no process %q in the stack", name)
	case p.memory == nil:
		return MemoryUsage{}, fmt.Errorf("%s runs without a memory limit", name)
	}
	select {
	case <-p.done:
		return p.finalUsage, nil
	default:
		return p.memory.usage()
	}
}

// Wait blocks until ctx is done (returning nil) or until a process of the
// stack exits without having been asked to (returning an error naming it).
func (s *Stack) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case p := <-s.exited:
		return fmt.Errorf("%s exited unexpectedly: %v%s", p.spec.Name, p.waitErr, p.logTail())
	}
}

// Stop ends every process, the last started first: SIGTERM, then SIGKILL
// for one still running when ctx is done or after 10 seconds. It removes the
// data directory if Start created it. Stop is safe to call more than once.
func (s *Stack) Stop(ctx context.Context) error {
	s.mu.Lock()
	procs := s.procs
	s.procs = nil
	for _, p := range procs {
		p.stopping = true
	}
	s.mu.Unlock()

	var errs []error
	for i := len(procs) - 1; i >= 0; i-- {
		if err := procs[i].stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, srv := range s.standins {
		_ = srv.Close()
	}
	s.standins = nil
	if s.ownsDataDir && s.DataDir != "" {
		if err := os.RemoveAll(s.DataDir); err != nil {
			errs = append(errs, fmt.Errorf("remove data directory: %w", err))
		}
		s.DataDir = ""
	}
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
	return errors.Join(errs...)
}

func (p *process) stop(ctx context.Context) error {
	select {
	case <-p.done:
		return nil // already gone; Wait has reported it
	default:
	}
	pid := p.cmd.Process.Pid
	// The negative pid signals the whole process group.
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s: %w", p.spec.Name, err)
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case <-p.done:
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("stop %s: killed after it ignored SIGTERM%s", p.spec.Name, p.logTail())
}

func (p *process) backend() Backend {
	return Backend{
		Name:       p.spec.Name,
		URL:        p.spec.URL,
		PID:        p.cmd.Process.Pid,
		LogFile:    p.logFile,
		ReadyAfter: p.readyAfter,
	}
}

// logTail returns the end of the process's log file, for error messages.
func (p *process) logTail() string {
	if p.logFile == "" {
		return ""
	}
	data, err := os.ReadFile(p.logFile)
	if err != nil || len(data) == 0 {
		return ""
	}
	const tailBytes = 3000
	if len(data) > tailBytes {
		data = data[len(data)-tailBytes:]
	}
	return fmt.Sprintf("\n--- end of %s ---\n%s", p.logFile, strings.TrimRight(string(data), "\n"))
}

// waitHealthy polls the process's health URL until it answers 2xx, the
// process exits, ctx is done or timeout passes.
func waitHealthy(ctx context.Context, p *process, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.spec.HealthURL, nil)
		if err != nil {
			return fmt.Errorf("health request: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		lastErr = err
		select {
		case <-p.done:
			return fmt.Errorf("exited before becoming healthy: %v", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("not healthy at %s after %s: %v", p.spec.HealthURL, timeout, lastErr)
		case <-tick.C:
		}
	}
}

// portsFree reports the first backend port something already listens on.
func portsFree() error {
	for _, port := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			return fmt.Errorf("port 127.0.0.1:%s is taken (compose, or a collector, Jaeger or Prometheus already running?): %w", port, err)
		}
		l.Close()
	}
	return nil
}

// lockMachine takes a machine-wide lock so that two stacks (say, the tests of
// two packages run by one `go test ./...`) take turns on the fixed ports
// instead of failing. It waits until ctx is done.
func lockMachine(ctx context.Context, log io.Writer) (unlock func(), err error) {
	path := filepath.Join(os.TempDir(), "otelshop-localstack.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !told {
			fmt.Fprintf(log, "localstack: another local stack is running (lock %s); waiting for it to stop\n", path)
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for another local stack to stop: %w", ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	// Closing the file releases the lock, also when the process dies.
	return func() { f.Close() }, nil
}
