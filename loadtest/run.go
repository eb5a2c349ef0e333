package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// run carries out a validated configuration: set-up, the run, the reports, and the
// error that says how it went.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer, tel Telemetry) (err error) {
	out, err := createOutputs(cfg)
	if err != nil {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("loadgen: %w", err)}
	}
	defer func() { err = errors.Join(err, out.close()) }()

	inst, err := newInstruments(tel)
	if err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	if cfg.metricsAddr != "" {
		stopMetrics, err := serveMetrics(cfg.metricsAddr, tel, stderr)
		if err != nil {
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("loadgen: -metrics-addr: %w", err)}
		}
		defer stopMetrics()
	}
	r, err := newRunner(ctx, cfg, tel, inst)
	if err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	defer r.client.close()

	fmt.Fprintf(stderr, "loadgen: run %s against %s, %s model, %s, seed %d\n", cfg.runID, r.client.base, cfg.mode, describeLoad(cfg), cfg.seed)
	if cfg.single == nil {
		derr := r.discover(ctx)
		switch {
		case ctx.Err() != nil:
			return &ExitError{Code: ExitInterrupted, Err: errors.New("loadgen: interrupted during product discovery")}
		case derr != nil:
			// Not fatal: a target that is down must still be measured (and fail its
			// thresholds); sessions pick up product ids from listings if it recovers.
			fmt.Fprintf(stderr, "loadgen: warning: product discovery failed: %v\n", derr)
		default:
			fmt.Fprintf(stderr, "loadgen: discovered %d products in %d categories\n", len(r.catalog.snapshot()), len(r.catalog.categoryNames()))
		}
	}

	aborted := r.execute(ctx, stdout)

	results, passed := checkThresholds(cfg.thresholds, r.rec)
	sum := r.summary(results, ctx.Err() != nil, aborted)
	if err := writeReports(sum, stdout, out); err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	switch {
	case ctx.Err() != nil:
		return &ExitError{Code: ExitInterrupted, Err: fmt.Errorf("loadgen: interrupted after %s; the report covers what ran", fmtDuration(sum.Duration()))}
	case !passed:
		return &ExitError{Code: ExitThresholds, Err: fmt.Errorf("loadgen: %w", thresholdsError(results, aborted))}
	}
	return nil
}

func thresholdsError(results []thresholdResult, aborted *thresholdResult) error {
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
	if cfg.mode == modeClosed {
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

// serveMetrics serves the registry on addr until the returned stop is called.
func serveMetrics(addr string, tel Telemetry, stderr io.Writer) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(tel.Registry, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "loadgen: metrics server: %v\n", err)
		}
	}()
	fmt.Fprintf(stderr, "loadgen: metrics on http://%s/metrics\n", ln.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
