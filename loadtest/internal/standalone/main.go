// Command standalone runs loadtest.Main without the shop's telemetry set-up, for
// loadtest/compare.sh and for trying the generator before cmd/shop wires it in.
//
// LOADGEN_CPUPROFILE=FILE writes a CPU profile of the run, to see where the generator's
// own time goes under compare.sh's load (go tool pprof FILE).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"

	"github.com/otelshop/shop/loadtest"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if path := os.Getenv("LOADGEN_CPUPROFILE"); path != "" {
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return loadtest.ExitFailure
		}
		defer stopProfile()
	}
	err := loadtest.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, loadtest.Telemetry{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return loadtest.ExitCode(err)
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("LOADGEN_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("LOADGEN_CPUPROFILE: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}
