package loadtest

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// dashboardMetrics are the series dashboards/loadtest.go queries, with their labels.
// Prometheus translates the OTLP names to these on ingestion, and the exporter behind
// -metrics-addr translates them the same way.
var dashboardMetrics = map[string]struct {
	kind   dto.MetricType
	labels []string
}{
	"loadgen_requests_total":           {dto.MetricType_COUNTER, []string{"endpoint", "method", "outcome", "status_class"}},
	"loadgen_request_duration_seconds": {dto.MetricType_HISTOGRAM, []string{"endpoint", "method", "status_class"}},
	"loadgen_missed_starts_total":      {dto.MetricType_COUNTER, nil},
	"loadgen_sessions_active":          {dto.MetricType_GAUGE, []string{"scenario"}},
	"loadgen_sessions_total":           {dto.MetricType_COUNTER, []string{"result", "scenario"}},
}

// With no telemetry wired (a standalone run), -metrics-addr still serves the
// generator's metrics during the run, under the names and labels the dashboard reads.
func TestMetricsAddr_NoTelemetry_ServesTheDashboardsSeries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	addr := closedPort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := startMain(t, ctx, Telemetry{},
		"-url", srv.URL+"/", "-rate", "50", "-duration", "30s", "-think", "0", "-metrics-addr", addr)

	// Read what /metrics serves (the text format), as a scraper would.
	var families map[string]*dto.MetricFamily
	for deadline := time.Now().Add(10 * time.Second); ; {
		var err error
		families, err = scrape("http://" + addr + "/metrics") // refused until the server is up
		if err == nil && len(loadgenFamilies(families)) == len(dashboardMetrics) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s /metrics has %v (%v)", slices.Sorted(maps.Keys(families)), err)
		}
		time.Sleep(50 * time.Millisecond) // polling for the condition, not waiting it out
	}
	for name, f := range loadgenFamilies(families) {
		want := dashboardMetrics[name]
		if f.GetType() != want.kind {
			t.Errorf("%s is a %s, want a %s", name, f.GetType(), want.kind)
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				if !strings.HasPrefix(lp.GetName(), "otel_scope_") { // the exporter's
					labels = append(labels, lp.GetName())
				}
			}
			slices.Sort(labels)
			if !slices.Equal(labels, want.labels) {
				t.Errorf("%s has labels %v, want %v", name, labels, want.labels)
			}
		}
	}

	cancel()
	if res := wait(); ExitCode(res.err) != ExitInterrupted || res.sum.Requests == 0 {
		t.Errorf("exit %d (%v) after %d requests", ExitCode(res.err), res.err, res.sum.Requests)
	}
}

// scrape parses what a /metrics URL serves in the text format.
func scrape(url string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

func loadgenFamilies(families map[string]*dto.MetricFamily) map[string]*dto.MetricFamily {
	out := map[string]*dto.MetricFamily{}
	for name, f := range families {
		if _, ok := dashboardMetrics[name]; ok {
			out[name] = f
		}
	}
	return out
}
