package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/otelshop/shop/internal/audit"
	"github.com/otelshop/shop/internal/service"
	"github.com/otelshop/shop/telemetry"
)

const auditUsage = `Usage: shop audit [flags]

Reads the databases of orders, payments, inventory and shipping (POSTGRES_URL, with the
POSTGRES_DB_PREFIX every service uses) and checks money, stock and shipping against each
other. Prints every check and every discrepancy; states younger than -grace (a checkout
still running, a shipment on its way, a hold about to expire) are in flight, not judged.
Exports shop.audit.discrepancies{check} over OTLP (the standard OTEL_* variables), which
the ShopLedgerDiscrepancy alert reads.

Exit codes: 0 no discrepancy, 1 discrepancies found or the audit could not run
(the message says which). With -watch it runs until stopped and exits 0.

Flags:
`

// runAudit is `shop audit`: once, or every -watch interval for as long as it runs.
func runAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, auditUsage); fs.PrintDefaults() }
	grace := fs.Duration("grace", 15*time.Minute, "how long a state may be in flight before it counts: more than PENDING_ORDER_TIMEOUT plus a sweep (10m + 2.5m by default)")
	since := fs.Duration("since", 0, "audit only orders (and charges, holds, shipments) of this last while, e.g. 168h; 0 for all (stock is always checked whole)")
	watch := fs.Duration("watch", 0, "audit again every interval until stopped, e.g. 5m, exporting the gauge after each audit; 0 audits once")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("audit takes no arguments, got %q", strings.Join(fs.Args(), " "))
	}
	if *grace < 0 || *since < 0 || *watch < 0 {
		return errors.New("audit: -grace, -since and -watch must not be negative")
	}

	env := service.NewEnv(getenv)
	stores := service.LoadStores(env)
	name := "audit"
	if n := getenv("OTEL_SERVICE_NAME"); n != "" {
		name = n
	}
	cfg := telemetry.ConfigFromEnv(name, version, getenv)
	cfg.ProcessWide, cfg.LogOutput = true, stderr // stdout is for the report
	tel, err := telemetry.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(shutdownCtx) // flushes the last gauge
	}()
	metrics := audit.NewMetrics(tel.MeterProvider)

	dbs, err := audit.Open(ctx, stores)
	if err != nil {
		metrics.Failed(ctx)
		return fmt.Errorf("audit: %w", err)
	}
	defer dbs.Close()
	databases := stores.DatabasePrefix + "{orders,payments,inventory,shipping}"

	once := func(ctx context.Context) (int, error) {
		opts := audit.Options{Grace: *grace}
		if *since > 0 {
			opts.Since = time.Now().Add(-*since)
		}
		report, err := audit.Run(ctx, dbs, opts)
		if err != nil {
			metrics.Failed(ctx)
			return 0, fmt.Errorf("audit: %w", err)
		}
		metrics.Record(ctx, report)
		if *asJSON {
			err = report.PrintJSON(stdout)
		} else {
			err = report.Print(stdout, databases)
		}
		return report.Discrepancies(), err
	}

	if *watch == 0 {
		n, err := once(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("audit: %d discrepancies", n)
		}
		return nil
	}
	tel.Logger.Info("auditing every interval until stopped", "interval", watch.String())
	pass := func(ctx context.Context) {
		if n, err := once(ctx); err != nil && ctx.Err() == nil {
			tel.Logger.Error("audit failed", "error", err)
		} else if n > 0 {
			tel.Logger.Warn("audit found discrepancies", "discrepancies", n)
		}
	}
	pass(ctx)
	service.Every(ctx, *watch, nil, pass)
	return nil
}
