// Command shop runs the shop: one service per subcommand, or all of them in one
// process with `shop all`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/loadtest"
	"github.com/otelshop/shop/telemetry"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "loadgen" {
		os.Exit(loadtest.ExitCode(runLoadgen(ctx, os.Args[2:], os.Getenv, os.Stdout, os.Stderr)))
	}
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "shop:", err)
		var usage usageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usage lists the commands: one per registered service, then the others.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: shop <command>\n\ncommands:\n  all        every service in one process\n")
	for _, d := range app.Registry {
		fmt.Fprintf(&b, "  %-10s %s (%s)\n", d.Name, d.Summary, d.DefaultAddr())
	}
	b.WriteString("  audit      check money, stock and shipping across the services' databases (shop audit -h)\n" +
		"  loadgen    the load generator (shop loadgen -h for its flags)\n" +
		"  drill      fault drills against a running platform: detected, explained, resolved (shop drill -h)\n" +
		"  flags      list and switch the fault flags (shop flags list | set NAME VARIANT | reset)\n" +
		"  secrets    make the client secrets every service and the operators need (shop secrets [DIR])\n" +
		"  token      print a token of a client, e.g. the operators' (shop token admin)\n" +
		"  version    print the version\n\n" +
		"Configuration is by environment variables; see docs/contract.md.\n")
	return b.String()
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage())
		if len(args) == 0 {
			return errors.New("no command given")
		}
		return nil
	}
	opts := app.Options{ProcessName: "shop", Version: version, Getenv: getenv, Stdout: stdout}
	switch cmd := args[0]; {
	case cmd == "version":
		fmt.Fprintln(stdout, version)
		return nil
	case cmd == "secrets":
		return makeSecrets(args[1:], getenv, stdout)
	case cmd == "token":
		return printToken(ctx, args[1:], getenv, stdout)
	case cmd == "audit":
		return runAudit(ctx, args[1:], getenv, stdout, stderr)
	case cmd == "flags":
		return runFlags(args[1:], getenv, stdout)
	case cmd == "drill":
		return runDrill(ctx, args[1:], getenv, stdout, stderr)
	case cmd == "all":
		opts.Services = app.Names()
	case slices.Contains(app.Names(), cmd):
		opts.Services, opts.ProcessName = []string{cmd}, cmd
		if n := getenv("OTEL_SERVICE_NAME"); n != "" {
			opts.ProcessName = n
		}
	default:
		fmt.Fprint(stderr, usage())
		return fmt.Errorf("unknown command %q", cmd)
	}
	return app.Run(ctx, opts)
}

// runLoadgen runs the load generator with telemetry of its own, so its client spans
// start the traces and its metrics show a run live. Its logs go to stderr: stdout is
// for the report.
func runLoadgen(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	name := "loadgen"
	if n := getenv("OTEL_SERVICE_NAME"); n != "" {
		name = n
	}
	cfg := telemetry.ConfigFromEnv(name, version, getenv)
	// -metrics-addr serves tel.Registry: the generator's metrics go there as well as
	// over OTLP.
	cfg.ProcessWide, cfg.PrometheusMetrics, cfg.LogOutput = true, true, stderr
	// A run of a minute or less still draws the Load test dashboard's rates.
	cfg.MetricExportInterval = 5 * time.Second
	tel, err := telemetry.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(shutdownCtx)
	}()
	return loadtest.Main(ctx, args, getenv, stdout, stderr, loadtest.Telemetry{
		TracerProvider: tel.TracerProvider, MeterProvider: tel.MeterProvider,
		Propagator: tel.Propagator, Registry: tel.Registry,
	})
}
