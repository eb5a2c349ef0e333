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
	sum      summary
	elapsed  time.Duration
	registry *prometheus.Registry
}

// runMain runs the generator as cmd/shop would, with a JSON report it decodes.
func runMain(t testing.TB, ctx context.Context, tel Telemetry, args ...string) runResult {
	t.Helper()
	jsonPath := filepath.Join(t.TempDir(), "summary.json")
	args = append(args, "-json", jsonPath)
	if tel.Registry == nil {
		tel.Registry = prometheus.NewRegistry()
	}
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := Main(ctx, args, testEnv(nil), &stdout, &stderr, tel)
	res := runResult{err: err, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start), registry: tel.Registry}
	raw, readErr := os.ReadFile(jsonPath)
	if readErr != nil {
		t.Fatalf("read JSON report: %v (err %v, stderr %s)", readErr, err, res.stderr)
	}
	if err := json.Unmarshal(raw, &res.sum); err != nil {
		t.Fatalf("JSON report does not parse: %v\n%s", err, raw)
	}
	return res
}

func (r runResult) endpoint(t testing.TB, name string) endpointSummary {
	t.Helper()
	for _, e := range r.sum.Endpoints {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("endpoint %q not in report", name)
	return endpointSummary{}
}

// metricSum adds up every series of one of the generator's client_golang metrics
// (counter values, or observation counts for histograms).
func metricSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
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
	t.Fatalf("metric %s not registered", name)
	return 0
}
