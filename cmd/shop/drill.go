package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/drill"
	"github.com/otelshop/shop/internal/flags"
)

// runDrill runs fault drills against a running platform (local mode or
// compose): `shop drill [flags] NAME…|all`.
func runDrill(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("drill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	prom := fs.String("prometheus", env("PROMETHEUS_URL", "http://127.0.0.1:9090"), "Prometheus (env PROMETHEUS_URL), with the shipped rule files")
	jaeger := fs.String("jaeger", env("JAEGER_URL", "http://127.0.0.1:16686"), "Jaeger's query API (env JAEGER_URL)")
	pyroscope := fs.String("pyroscope", env("PYROSCOPE_URL", "http://127.0.0.1:4040"), "Pyroscope, or local mode's stand-in (env PYROSCOPE_URL)")
	loki := fs.String("loki", env("LOKI_URL", "http://127.0.0.1:3100"), "Loki, or local mode's stand-in (env LOKI_URL)")
	target := fs.String("target", env("GATEWAY_URL", "http://127.0.0.1:8080"), "the gateway the load goes to (env GATEWAY_URL)")
	load := fs.Bool("load", true, "run `shop loadgen` against -target for the whole drill (off when another load runs)")
	rate := fs.Float64("rate", 12, "the load's sessions per second")
	warmup := fs.Duration("warmup", time.Minute, "how long the load runs before the first fault")
	resolve := fs.Bool("resolve", true, "measure resolution too: turn the fault off and wait for the alert to clear")
	parallel := fs.Bool("parallel", false, "run the drills at once (only for drills of different alerts and services)")
	waves := fs.Bool("waves", false, "run the drills in waves of at most one per service, each wave at once (make drills)")
	jsonOut := fs.String("json", "", "write the results as JSON to this file")
	mdOut := fs.String("markdown", "", "write the results as a Markdown table to this file")
	detect := fs.Duration("detect-timeout", 6*time.Minute, "how long an alert may take to fire")
	clear := fs.Duration("resolve-timeout", 10*time.Minute, "how long an alert may take to clear")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: shop drill [flags] NAME…|all\n\nTurns each fault on under load, waits for its alert, finds the evidence, turns it off.\nThe flag file is FLAGS_FILE (default "+flags.DefaultFile+").\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err}
	}
	drills, err := drill.Named(fs.Args())
	if err != nil {
		return usageError{err}
	}
	cfg := drill.Config{
		Backends:  drill.Backends{Prometheus: *prom, Jaeger: *jaeger, Pyroscope: *pyroscope, Loki: *loki},
		FlagsFile: env(flags.FileEnv, flags.DefaultFile), Known: app.Faults(),
		Resolve: *resolve, Parallel: *parallel, Waves: *waves, DetectTimeout: *detect, ResolveTimeout: *clear, Log: stderr,
	}
	if *load {
		cfg.LoadStarted = time.Now()
		stop, err := startLoad(ctx, *target, *rate, stderr)
		if err != nil {
			return err
		}
		defer stop()
		fmt.Fprintf(stderr, "load: %g sessions/s against %s; warming up for %s\n", *rate, *target, *warmup)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(*warmup):
		}
	}
	results, err := drill.Run(ctx, cfg, drills)
	if err != nil && results == nil {
		return err
	}
	drill.Text(stdout, results, cfg.Resolve)
	if err := writeResults(*jsonOut, func(w io.Writer) error { return drill.JSON(w, results) }); err != nil {
		return err
	}
	if err := writeResults(*mdOut, func(w io.Writer) error { drill.Markdown(w, results, cfg.Resolve); return nil }); err != nil {
		return err
	}
	failed := 0
	for _, r := range results {
		if !r.OK(cfg.Resolve) {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d drills failed", failed, len(results))
	}
	return err
}

func writeResults(path string, write func(io.Writer) error) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(write(f), f.Close())
}

// startLoad runs this binary's load generator until stop.
func startLoad(ctx context.Context, target string, rate float64, stderr io.Writer) (stop func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, self, "loadgen", "-target", target, "-rate", strconv.FormatFloat(rate, 'f', -1, 64), "-duration", "24h")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start the load: %w", err)
	}
	done := make(chan struct{})
	go func() {
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			fmt.Fprintln(stderr, "load generator stopped:", err)
		}
		close(done)
	}()
	return func() { cancel(); <-done }, nil
}
