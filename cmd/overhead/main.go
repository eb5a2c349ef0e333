// Command overhead measures what the shop's telemetry costs, side by side in one
// run (internal/overhead): the shop with telemetry off and with every signal on,
// exporting to the project's collector and, separately, to a discarding endpoint,
// driven by the same load in alternating rounds on the browse and checkout paths.
//
//	go run ./cmd/overhead                                  # the full form (make bench-overhead)
//	go run ./cmd/overhead -variants off,collector,ratio    # head sampling
//	go run ./cmd/overhead -rounds 1 -closed 3s -open 3s    # a quick look
//
// It prints a table per path and, with -json, writes every run and the summaries.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/otelshop/shop/internal/overhead"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "overhead:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := overhead.DefaultConfig()
	fs := flag.NewFlagSet("overhead", flag.ContinueOnError)
	fs.SetOutput(stderr)
	variants := fs.String("variants", strings.Join(cfg.Variants, ","), "variants to run, off first (off, collector, discard, ratio, tail)")
	paths := fs.String("paths", strings.Join(cfg.Paths, ","), "paths to drive (browse, checkout)")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "rounds; the variants take turns within each")
	fs.DurationVar(&cfg.Closed, "closed", cfg.Closed, "each closed-model run (throughput)")
	fs.DurationVar(&cfg.Open, "open", cfg.Open, "each open-model run (latency at -load × capacity)")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "unrecorded closed run per variant and path before the rounds")
	fs.DurationVar(&cfg.Settle, "settle", cfg.Settle, "how long after each run its CPU is still counted (export delays)")
	fs.DurationVar(&cfg.Idle, "idle", cfg.Idle, "how long the shops' idle CPU is read before the rounds")
	fs.Float64Var(&cfg.Load, "load", cfg.Load, "open model's rate as a share of the lowest variant's closed-model throughput")
	fs.IntVar(&cfg.BasePort, "base-port", cfg.BasePort, "first port of the search for a free block")
	fs.StringVar(&cfg.Root, "root", ".", "repository root")
	fs.StringVar(&cfg.ShopBinary, "shop", "", "shop binary to run (default: build ./cmd/shop)")
	fs.StringVar(&cfg.DataDir, "data", "", "keep every process's log and every load report in this directory")
	fs.StringVar(&cfg.ProfileDir, "profile", "", "save CPU profiles of every process during each variant's first open run into this directory (turns the continuous profiler off; figures perturbed)")
	jsonPath := fs.String("json", "", "also write the report, every run included, as JSON to this file")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.Variants, cfg.Paths = strings.Split(*variants, ","), strings.Split(*paths, ",")
	if !*quiet {
		cfg.Log = stderr
	}
	var jsonFile *os.File
	if *jsonPath != "" {
		var err error
		if jsonFile, err = os.Create(*jsonPath); err != nil {
			return err
		}
		defer jsonFile.Close()
	}
	rep, err := overhead.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := rep.WriteText(stdout); err != nil {
		return err
	}
	if jsonFile != nil {
		if err := rep.WriteJSON(jsonFile); err != nil {
			return err
		}
		return jsonFile.Close()
	}
	return nil
}
