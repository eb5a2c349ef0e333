package loadtest

import (
	"context"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelshop/shop/loadtest/internal/gateway"
	"github.com/otelshop/shop/loadtest/internal/gatewaytest"
	"github.com/otelshop/shop/loadtest/internal/metrics"
	"github.com/otelshop/shop/loadtest/internal/shopper"
)

// Every scenario runs against a fake gateway that rejects anything docs/contract.md
// does not allow; a clean run means the scenarios' requests are well-formed.
func TestScenarios_AgainstContractFake_RequestsAreWellFormed(t *testing.T) {
	const runID = "test-scenarios"
	fake := gatewaytest.New(runID, 120)
	fake.RequireTraceparent = true
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)

	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	reader := sdkmetric.NewManualReader()
	tel := prometheusTelemetry(t, reader)
	tel.TracerProvider = tp

	var mix []string
	for _, name := range shopper.Scenarios() {
		mix = append(mix, name+"=1")
	}
	res := runMain(t, context.Background(), tel,
		"-target", srv.URL, "-rate", "150", "-duration", "2s", "-think", "0", "-seed", "42",
		"-run-id", runID, "-mix", strings.Join(mix, ","), "-grace", "5s")

	violations, seen := fake.Report()
	for _, v := range violations {
		t.Errorf("contract violation: %s", v)
	}
	if res.err != nil {
		t.Fatalf("run: %v\n%s\n%s", res.err, res.stdout, res.stderr)
	}
	s := res.sum
	if s.Errors != 0 || s.Requests == 0 {
		t.Fatalf("requests %d, errors %v", s.Requests, s.ErrorsByKind)
	}
	for _, sc := range s.Scenarios {
		if sc.Started == 0 || sc.Failed != 0 || sc.Completed+sc.Interrupted != sc.Started {
			t.Errorf("scenario %s: %+v", sc.Name, sc)
		}
	}
	if len(s.Scenarios) != len(mix) {
		t.Errorf("report lists %d scenarios, want %d", len(s.Scenarios), len(mix))
	}
	for _, ep := range gateway.Endpoints() {
		if seen[ep.String()] == 0 {
			t.Errorf("no scenario called %s", ep)
		}
	}
	if !strings.Contains(res.stderr, "discovered 120 products in 5 categories") {
		t.Errorf("discovery not reported:\n%s", res.stderr)
	}

	// Spans: one client span per request, named after the route template.
	known := gateway.Names(gateway.Endpoints())
	var withoutIDs = regexp.MustCompile(`SKU-|ord-|@`)
	for _, sp := range spans.GetSpans() {
		if !slices.Contains(known, sp.Name) {
			t.Errorf("span named %q, want a route template", sp.Name)
		}
		if !slices.Contains(sp.Attributes, attribute.String("loadtest.run", runID)) {
			t.Errorf("span %s lacks loadtest.run=%s: %v", sp.Name, runID, sp.Attributes)
		}
	}
	traceIDs := map[string]bool{}
	for _, sp := range spans.GetSpans() {
		traceIDs[sp.SpanContext.TraceID().String()] = true
	}
	var sent int
	for _, n := range seen {
		sent += n
	}
	if got := len(spans.GetSpans()); got != sent {
		t.Errorf("%d client spans for %d requests", got, sent)
	}

	// Metrics: bounded attributes only, on both export paths (OTLP and /metrics, from
	// the same instruments), agreeing with the report.
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	allowed := []string{"endpoint", "method", "status_class", "outcome", "scenario", "result"}
	var otelRequests int64
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != metrics.Scope {
			continue
		}
		for _, m := range sm.Metrics {
			for _, set := range attributeSets(m.Data) {
				for _, kv := range set.ToSlice() {
					if !slices.Contains(allowed, string(kv.Key)) || withoutIDs.MatchString(kv.Value.Emit()) {
						t.Errorf("metric %s has attribute %s=%q", m.Name, kv.Key, kv.Value.Emit())
					}
				}
			}
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == metrics.Requests {
				for _, dp := range sum.DataPoints {
					otelRequests += dp.Value
				}
			}
		}
	}
	if otelRequests != s.Requests {
		t.Errorf("OTel %s = %d, report says %d", metrics.Requests, otelRequests, s.Requests)
	}
	if got := metricSum(t, res.registry, "loadgen_requests_total"); got != float64(s.Requests) {
		t.Errorf("loadgen_requests_total = %g, report says %d", got, s.Requests)
	}
	families, err := res.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var exemplars int
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "loadgen_") {
			continue // otelhttp's and the SDK's own
		}
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if strings.HasPrefix(lp.GetName(), "otel_scope_") {
					continue // the exporter's
				}
				if !slices.Contains(allowed, lp.GetName()) || withoutIDs.MatchString(lp.GetValue()) {
					t.Errorf("%s has label %s=%q", f.GetName(), lp.GetName(), lp.GetValue())
				}
				if lp.GetName() == "endpoint" && !strings.HasPrefix(lp.GetValue(), "/api/") {
					t.Errorf("%s endpoint label %q", f.GetName(), lp.GetValue())
				}
			}
			for _, b := range m.GetHistogram().GetBucket() {
				for _, lp := range b.GetExemplar().GetLabel() {
					if lp.GetName() == "trace_id" && traceIDs[lp.GetValue()] {
						exemplars++
					}
				}
			}
		}
	}
	if exemplars == 0 {
		t.Error("loadgen_request_duration_seconds carries no exemplar with a request's trace id")
	}
	if got := metricSum(t, res.registry, "loadgen_sessions_active"); got != 0 {
		t.Errorf("loadgen_sessions_active = %g after the run", got)
	}
}

func attributeSets(data metricdata.Aggregation) []attribute.Set {
	var sets []attribute.Set
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		for _, dp := range d.DataPoints {
			sets = append(sets, dp.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, dp := range d.DataPoints {
			sets = append(sets, dp.Attributes)
		}
	}
	return sets
}

// Closed model: ramping virtual users loop through sessions; never more sessions in
// flight than users.
func TestClosedModel_RampingUsers_AgainstContractFake(t *testing.T) {
	const runID = "test-closed"
	fake := gatewaytest.New(runID, 40)
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)

	res := runMain(t, context.Background(), Telemetry{},
		"-target", srv.URL, "-mode", "closed", "-stages", "500ms:0->4,1s:4", "-think", "5ms-20ms", "-run-id", runID)
	violations, _ := fake.Report()
	for _, v := range violations {
		t.Errorf("contract violation: %s", v)
	}
	if res.err != nil {
		t.Fatalf("run: %v\n%s", res.err, res.stderr)
	}
	if res.sum.Requests < 20 || res.sum.Errors != 0 {
		t.Errorf("requests %d, errors %v", res.sum.Requests, res.sum.ErrorsByKind)
	}
	for _, p := range res.sum.Timeline.Points {
		if p.MaxActive > 4 {
			t.Errorf("%d sessions in flight at %gs with 4 users", p.MaxActive, p.T)
		}
	}
	if res.sum.Scheduled != 0 || res.sum.MissedStarts != 0 {
		t.Errorf("closed model reports arrivals: %d scheduled, %d missed", res.sum.Scheduled, res.sum.MissedStarts)
	}
}
