// Command localstack runs the shop with its telemetry pipeline on one
// machine without Docker: the collector, Jaeger and Prometheus as local
// processes (internal/localstack, same config files as compose.yaml), then
// `shop all` sending to them. Ctrl-C stops everything.
//
//	make localstack                    # builds bin/localstack and runs it
//	go run ./cmd/localstack            # the same, from the repository root
//	go run ./cmd/localstack -no-shop   # the backends only
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/localstack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "localstack:", err)
		os.Exit(1)
	}
}

const defaultShopPath = "bin/shop"

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	flags := flag.NewFlagSet("localstack", flag.ContinueOnError)
	flags.SetOutput(stderr)
	root := flags.String("root", ".", "the repository root")
	shopPath := flags.String("shop", defaultShopPath, "the shop binary, relative to -root; the default is (re)built from ./cmd/shop first")
	noShop := flags.Bool("no-shop", false, "start the telemetry backends only")
	noBuild := flags.Bool("no-build", false, "do not run tools/build.sh; fail when bin/ lacks a backend")
	dataDir := flags.String("data", "", "keep data and logs in this directory (default: a temporary one, removed on exit)")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}

	stack, err := localstack.Start(ctx, localstack.Config{
		Root:       *root,
		DataDir:    *dataDir,
		BuildTools: !*noBuild,
		Log:        stderr,
	})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(stderr, "localstack: stopping")
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = errors.Join(err, stack.Stop(stopCtx))
	}()

	shopRunning := false
	if !*noShop {
		path, ok := shopBinary(ctx, *root, *shopPath, stderr)
		if ok {
			// One process per service, as compose runs them, so that each has its
			// own runtime metrics, profiles and alerts (and drills see the same).
			err := stack.RunShop(ctx, localstack.ShopConfig{Binary: path})
			if err != nil {
				return fmt.Errorf("shop: %w", err)
			}
			shopRunning = true
		}
	}

	printSummary(stdout, stack, shopRunning)
	if err := stack.Wait(ctx); err != nil {
		return err
	}
	return nil
}

// shopBinary returns the shop binary to run. The default path is rebuilt
// first (go build is incremental) so local mode runs the current code; a
// missing cmd/shop or a failed build is reported and the backends run alone.
func shopBinary(ctx context.Context, root, path string, stderr io.Writer) (string, bool) {
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(root, path)
	}
	if path == defaultShopPath {
		if _, err := os.Stat(filepath.Join(root, "cmd", "shop")); err == nil {
			fmt.Fprintln(stderr, "localstack: go build -o bin/shop ./cmd/shop")
			build := exec.CommandContext(ctx, "go", "build", "-o", full, "./cmd/shop")
			build.Dir = root
			build.Stdout, build.Stderr = stderr, stderr
			if err := build.Run(); err != nil {
				fmt.Fprintf(stderr, "localstack: could not build the shop (%v); running the telemetry backends without it\n", err)
				return "", false
			}
		}
	}
	if _, err := os.Stat(full); err != nil {
		fmt.Fprintf(stderr, "localstack: no shop binary at %s (%v); running the telemetry backends without it.\n"+
			"  Build it with `go build -o bin/shop ./cmd/shop`, or point -shop at one.\n", full, err)
		return "", false
	}
	return full, true
}

func printSummary(w io.Writer, stack *localstack.Stack, shopRunning bool) {
	fmt.Fprintf(w, "\nlocalstack is up; data and logs in %s\n\n", stack.DataDir)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	ready := map[string]time.Duration{}
	urls := map[string]string{}
	for _, b := range stack.Backends() {
		ready[b.Name], urls[b.Name] = b.ReadyAfter.Round(time.Millisecond), b.URL
	}
	fmt.Fprintf(tw, "collector\tOTLP grpc %s, http %s\tready after %s\n", localstack.CollectorOTLPGRPC, localstack.CollectorOTLPHTTP, ready["collector"])
	fmt.Fprintf(tw, "jaeger\t%s\tready after %s (this build's UI is a placeholder page; /api/traces, /api/services work)\n", localstack.JaegerURL, ready["jaeger"])
	fmt.Fprintf(tw, "prometheus\t%s\tready after %s (API only: /api/v1/query; no UI assets in this build)\n", localstack.PrometheusURL, ready["prometheus"])
	fmt.Fprintf(tw, "pyroscope\t%s\tstand-in: ingest and /pyroscope/render\n", localstack.PyroscopeURL)
	fmt.Fprintf(tw, "loki\t%s\tstand-in: /loki/api/v1/query_range over %s\n", localstack.LokiURL, stack.LogsFile)
	if shopRunning {
		for i, d := range app.Registry {
			fmt.Fprintf(tw, "%s\t%s\tready after %s (admin: http://%s)\n", d.Name, urls[d.Name], ready[d.Name], localstack.DefaultAdminAddr(i))
		}
	} else {
		fmt.Fprintf(tw, "shop\tnot running\t\n")
	}
	tw.Flush()
	fmt.Fprintln(w, "\nNot in this mode: Grafana (it cannot run here; use compose.yaml).")
	fmt.Fprintln(w, "Faults: shop flags list; drills: shop drill all. Ctrl-C stops everything.")
}
