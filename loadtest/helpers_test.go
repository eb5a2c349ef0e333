package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/otelshop/shop/loadtest/internal/report"
)

// testEnv is the environment tests run Main with: CI is set, so no progress line.
func testEnv(extra map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := extra[k]; ok {
			return v
		}
		if k == "CI" {
			return "true"
		}
		return ""
	}
}

type runResult struct {
	err      error
	stdout   string
	stderr   string
	sum      report.Summary
	elapsed  time.Duration
	registry *prometheus.Registry
}

// runMain runs the generator as cmd/shop would, with a JSON report it decodes.
func runMain(t testing.TB, ctx context.Context, tel Telemetry, args ...string) runResult {
	t.Helper()
	return startMain(t, ctx, tel, args...)()
}

// startMain starts the generator on a goroutine of its own and returns a function
// that waits for it and decodes its report; call that on the test's goroutine.
func startMain(t testing.TB, ctx context.Context, tel Telemetry, args ...string) (wait func() runResult) {
	t.Helper()
	jsonPath := filepath.Join(t.TempDir(), "summary.json")
	args = append(args, "-json", jsonPath)
	if tel.Registry == nil {
		tel.Registry = prometheus.NewRegistry()
	}
	done := make(chan runResult, 1)
	go func() {
		var stdout, stderr bytes.Buffer
		start := time.Now()
		err := Main(ctx, args, testEnv(nil), &stdout, &stderr, tel)
		done <- runResult{err: err, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start), registry: tel.Registry}
	}()
	return func() runResult {
		t.Helper()
		return decodeReport(t, <-done, jsonPath)
	}
}

func decodeReport(t testing.TB, res runResult, jsonPath string) runResult {
	t.Helper()
	err := res.err
	raw, readErr := os.ReadFile(jsonPath)
	if readErr != nil {
		t.Fatalf("read JSON report: %v (err %v, stderr %s)", readErr, err, res.stderr)
	}
	if err := json.Unmarshal(raw, &res.sum); err != nil {
		t.Fatalf("JSON report does not parse: %v\n%s", err, raw)
	}
	return res
}

func (r runResult) endpoint(t testing.TB, name string) report.Endpoint {
	t.Helper()
	for _, e := range r.sum.Endpoints {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("endpoint %q not in report", name)
	return report.Endpoint{}
}

// prometheusTelemetry is telemetry as cmd/shop wires the load generator's: an SDK
// MeterProvider with the OpenTelemetry Prometheus exporter registered on the Registry
// that -metrics-addr serves, plus any other readers given.
func prometheusTelemetry(t *testing.T, readers ...sdkmetric.Reader) Telemetry {
	t.Helper()
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	opts := []sdkmetric.Option{sdkmetric.WithReader(exp)}
	for _, r := range readers {
		opts = append(opts, sdkmetric.WithReader(r))
	}
	mp := sdkmetric.NewMeterProvider(opts...)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return Telemetry{MeterProvider: mp, Registry: reg}
}

// metricSum adds up every series of one of the generator's metrics as Prometheus
// shows it (counter and gauge values, or observation counts for histograms).
func metricSum(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
		return sum
	}
	t.Fatalf("metric %s not on the registry", name)
	return 0
}
