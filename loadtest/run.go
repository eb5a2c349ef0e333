package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/otelshop/shop/loadtest/internal/format"
	"github.com/otelshop/shop/loadtest/internal/gateway"
	"github.com/otelshop/shop/loadtest/internal/metrics"
	"github.com/otelshop/shop/loadtest/internal/report"
	"github.com/otelshop/shop/loadtest/internal/schedule"
	"github.com/otelshop/shop/loadtest/internal/shopper"
	"github.com/otelshop/shop/loadtest/internal/thresholds"
)

// run carries out a validated configuration: set-up, the run, the reports, and the
// error that says how it went.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer, tel Telemetry) (err error) {
	out, err := createOutputs(cfg)
	if err != nil {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("loadgen: %w", err)}
	}
	defer func() { err = errors.Join(err, out.close()) }()

	meters := tel.MeterProvider
	if cfg.metricsAddr != "" {
		if !tel.metered {
			mp, err := metrics.PrometheusMeterProvider(tel.Registry)
			if err != nil {
				return fmt.Errorf("loadgen: %w", err)
			}
			defer func() { _ = mp.Shutdown(context.Background()) }()
			meters = mp
		}
		stopMetrics, err := metrics.Serve(cfg.metricsAddr, tel.Registry, stderr)
		if err != nil {
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("loadgen: -metrics-addr: %w", err)}
		}
		defer stopMetrics()
	}
	inst, err := metrics.New(ctx, meters, cfg.endpoints, cfg.mix.Names())
	if err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	client, err := newClient(ctx, cfg, tel)
	if err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	defer client.Close()

	fmt.Fprintf(stderr, "loadgen: run %s against %s, %s model, %s, seed %d\n", cfg.runID, client.Base(), cfg.mode, describeLoad(cfg), cfg.seed)
	catalog := shopper.NewCatalog(cfg.maxProducts)
	if cfg.single == nil {
		discovered, derr := shopper.Discover(ctx, client, cfg.seed, cfg.maxProducts)
		switch {
		case ctx.Err() != nil:
			return &ExitError{Code: ExitInterrupted, Err: errors.New("loadgen: interrupted during product discovery")}
		case derr != nil:
			// Not fatal: a target that is down must still be measured (and fail its
			// thresholds); sessions pick up product ids from listings if it recovers.
			fmt.Fprintf(stderr, "loadgen: warning: product discovery failed: %v\n", derr)
		default:
			fmt.Fprintf(stderr, "loadgen: discovered %d products in %d categories\n", len(discovered.Products()), len(discovered.Categories()))
		}
		catalog = discovered
	}

	rec, aborted := execute(ctx, cfg, client, inst, catalog, stdout)

	results, passed := thresholds.Check(cfg.thresholds, rec)
	sum := report.New(report.Run{
		RunID:     cfg.runID,
		Target:    client.Base(),
		Mode:      cfg.mode,
		Arrival:   cfg.arrival,
		Stages:    cfg.profile.String(),
		Think:     cfg.think.String(),
		Seed:      cfg.seed,
		JaegerURL: cfg.jaegerURL,
	}, rec.Snapshot(), report.Outcome{Thresholds: results, Interrupted: ctx.Err() != nil, AbortedOn: aborted})
	if err := writeReports(sum, stdout, out); err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	switch {
	case ctx.Err() != nil:
		return &ExitError{Code: ExitInterrupted, Err: fmt.Errorf("loadgen: interrupted after %s; the report covers what ran", format.Duration(sum.Duration()))}
	case !passed:
		return &ExitError{Code: ExitThresholds, Err: fmt.Errorf("loadgen: %w", thresholdsError(results, aborted))}
	}
	return nil
}

// newClient is the run's gateway client: every session in flight may hold a connection.
func newClient(ctx context.Context, cfg config, tel Telemetry) (*gateway.Client, error) {
	idle := cfg.maxConcurrency
	if cfg.mode == schedule.ModeClosed {
		idle = int(cfg.profile.Peak()) + 1
	}
	// The gateway may sit under a path prefix; in -url mode the path is the call's.
	base := strings.TrimRight(cfg.target.Scheme+"://"+cfg.target.Host+cfg.target.EscapedPath(), "/")
	if cfg.single != nil {
		base = cfg.single.Scheme + "://" + cfg.single.Host
	}
	return gateway.NewClient(ctx, gateway.Options{
		BaseURL:        base,
		Timeout:        cfg.timeout,
		RunID:          cfg.runID,
		IdleConns:      idle,
		Traced:         tel.traced,
		TracerProvider: tel.TracerProvider,
		MeterProvider:  tel.MeterProvider,
		Propagator:     tel.Propagator,
	})
}

func thresholdsError(results []thresholds.Result, aborted *thresholds.Result) error {
	var broken []string
	for _, t := range results {
		if !t.OK {
			broken = append(broken, fmt.Sprintf("%s (actual %s)", t.Expr, t.Actual))
		}
	}
	msg := fmt.Sprintf("%d threshold(s) broken: %v", len(broken), broken)
	if aborted != nil {
		msg += fmt.Sprintf("; run aborted early on %s", aborted.Expr)
	}
	return errors.New(msg)
}

func describeLoad(cfg config) string {
	unit := "arrivals/s of " + cfg.arrival
	if cfg.mode == schedule.ModeClosed {
		unit = "virtual users"
	}
	return fmt.Sprintf("stages %s (%s), think %s", cfg.profile, unit, cfg.think)
}

// outputs are the report files, created before the run so a bad path fails fast.
type outputs struct {
	json, html *os.File
}

func (o outputs) close() error {
	var errs []error
	for _, f := range []*os.File{o.json, o.html} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	return errors.Join(errs...)
}

func createOutputs(cfg config) (outputs, error) {
	var o outputs
	var err error
	if cfg.jsonPath != "" {
		if o.json, err = os.Create(cfg.jsonPath); err != nil {
			return o, fmt.Errorf("-json: %w", err)
		}
	}
	if cfg.htmlPath != "" {
		if o.html, err = os.Create(cfg.htmlPath); err != nil {
			return o, errors.Join(fmt.Errorf("-html: %w", err), o.close())
		}
	}
	return o, nil
}

// writeReports prints the text summary and writes the -json and -html files.
func writeReports(s *report.Summary, stdout io.Writer, out outputs) error {
	if err := report.WriteText(stdout, s); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	if out.json != nil {
		if err := report.WriteJSON(out.json, s); err != nil {
			return fmt.Errorf("write %s: %w", out.json.Name(), err)
		}
	}
	if out.html != nil {
		if err := report.WriteHTML(out.html, s); err != nil {
			return fmt.Errorf("write %s: %w", out.html.Name(), err)
		}
	}
	return nil
}
