package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/otelshop/shop/dashboards"
	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/drill"
	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/internal/localstack"
)

// e2eDrills are the drills make test runs, one of each kind the issue names: an
// error fault found by a failing span (and its logs), a latency fault found by
// an exemplar, a resource fault found by its CPU profile. They run at once
// (different alerts, different culprits), up to detection and explanation;
// resolution is measured by `make drills`.
var e2eDrills = []string{"catalogProductErrors", "paymentsSlowProcessor", "catalogRelatedProducts"}

// The platform catches its own faults: with the shipped rule files, each fault
// turned on under load fires its alert and leaves evidence the backends' APIs
// find.
func TestDrills_FaultsAreDetectedAndExplained(t *testing.T) {
	// Parallel, and the only parallel test: it runs after every other test of
	// the package, whose checks must not see the faults' errors.
	t.Parallel()
	drills, err := drill.Named(e2eDrills)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	loadStarted := time.Now()
	loadDone := make(chan error, 1)
	go func() {
		_, err := platform.Stack.RunOnce(loadCtx, localstack.Process{Name: "loadgen-drills", Path: platform.ShopBinary,
			Args: []string{"loadgen", "-target", platform.GatewayURL, "-rate", "12", "-duration", "30m"},
			Env:  append(platform.Stack.ShopEnv(), platform.Env...)})
		loadDone <- err
	}()
	defer func() {
		stopLoad()
		<-loadDone
	}()
	// Rates over two minutes need traffic in them, and the product targeting
	// needs product pages of this load in Jaeger: it favours other products than
	// the load of TestMain did (each run shuffles popularity with its own seed).
	eventually(t, func() error {
		if len(query(t, `sum(rate(http_server_request_duration_seconds_count{service_name="catalog", http_route="/v1/products/{id}"}[1m])) > 1`)) == 0 {
			return errors.New("the drills' load has not reached catalog yet")
		}
		pages := jaegerTraces(t, fmt.Sprintf("/api/traces?service=catalog&operation=%s&limit=300&start=%d",
			url.QueryEscape("GET /v1/products/{id}"), loadStarted.UnixMicro()))
		if len(pages) < 150 {
			return fmt.Errorf("%d product pages of the drills' load in Jaeger, want 150 to find the most viewed", len(pages))
		}
		return nil
	})

	var log bytes.Buffer
	started := time.Now()
	results, err := drill.Run(ctx, drill.Config{
		Backends:  drill.Backends{Prometheus: platform.PrometheusURL, Jaeger: platform.JaegerURL, Pyroscope: localstack.PyroscopeURL, Loki: localstack.LokiURL},
		FlagsFile: platform.FlagsFile, Known: app.Faults(), Parallel: true, LoadStarted: loadStarted,
		DetectTimeout: 5 * time.Minute, ExplainTimeout: 2 * time.Minute, Log: &log,
	}, drills)
	var table strings.Builder
	drill.Text(&table, results, false)
	t.Logf("drills:\n%s\n%s", log.String(), table.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.OK(false) {
			t.Errorf("%s: detected %v, explained %v: %s", r.Fault, r.Detected, r.Explained, r.Problem)
		}
	}
	// The dashboards mark each change: Grafana evaluates the annotation queries
	// over the dashboard's range; here over the drills' window, with a one-minute
	// $__rate_interval. Each drilled fault must show up on, then off.
	for _, on := range []bool{true, false} {
		expr := strings.NewReplacer("$__rate_interval", "1m", `="$env"`, `=~".*"`).Replace(dashboards.FlagChangeExpr(on))
		eventually(t, func() error {
			keys := map[string]bool{}
			for _, s := range queryRange(t, expr, started, time.Now(), 15*time.Second) {
				keys[s.Metric["feature_flag_key"]] = true
			}
			if m := missing(keys, e2eDrills); len(m) > 0 {
				return fmt.Errorf("annotation %q has no %v", expr, m)
			}
			return nil
		})
	}

	list, err := flags.List(platform.FlagsFile, app.Faults())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Active {
			t.Errorf("%s is still on after the drills", s.Key)
		}
	}
}
