package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/shoptest"
)

// jaegerTrace is the part of Jaeger's /api/traces answer the tests read.
type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		ProcessID     string `json:"processID"`
		StartTime     int64  `json:"startTime"` // µs since the epoch
		References    []struct {
			RefType string `json:"refType"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
		Tags []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

func jaegerTraces(t *testing.T, query string) []jaegerTrace {
	t.Helper()
	var out struct{ Data []jaegerTrace }
	if err := shoptest.GetJSON(context.Background(), platform.JaegerURL+query, &out); err != nil {
		t.Fatalf("jaeger %s: %v", query, err)
	}
	return out.Data
}

func TestJaeger_TracesForEveryService(t *testing.T) {
	var out struct{ Data []string }
	eventually(t, func() error {
		if err := shoptest.GetJSON(context.Background(), platform.JaegerURL+"/api/services", &out); err != nil {
			return err
		}
		have := map[string]bool{}
		for _, s := range out.Data {
			have[s] = true
		}
		if m := missing(have, append(serviceNames(), "loadgen")); len(m) > 0 {
			return fmt.Errorf("Jaeger has no traces of %v (has %v)", m, out.Data)
		}
		return nil
	})
}

// A checkout trace, started by the load generator, holds the gateway, orders, inventory,
// payments, PostgreSQL, RabbitMQ and shipping spans, every one with its parent present.
func TestJaeger_CheckoutTraceCrossesEveryHop(t *testing.T) {
	traces := jaegerTraces(t, "/api/traces?service=gateway&operation="+url.QueryEscape("POST /api/checkout")+"&limit=50&lookback=1h")
	if len(traces) == 0 {
		t.Fatal("no checkout trace in Jaeger")
	}
	// The newest the load generator started that reached shipping: Jaeger's
	// in-memory store keeps the latest JAEGER_MAX_TRACES traces (compose's 5000
	// here), so the oldest of a minute of load may have been evicted while their
	// last spans still came in; and the browser test's checkouts, rooted in the
	// storefront, are newer still.
	var best jaegerTrace
	var newest int64
	for _, tr := range traces {
		var start int64
		shipped, loadgen := false, false
		for _, s := range tr.Spans {
			start = max(start, s.StartTime)
			shipped = shipped || s.OperationName == "process order.placed"
			loadgen = loadgen || tr.Processes[s.ProcessID].ServiceName == "loadgen"
		}
		if shipped && loadgen && start > newest {
			best, newest = tr, start
		}
	}
	if best.TraceID == "" {
		t.Fatalf("none of %d checkout traces was started by the load generator and reaches shipping", len(traces))
	}
	// Jaeger fetched by id: the whole trace, not the search's view of it. Its
	// processes export on their own schedules, so the last spans may still be on
	// their way: polled until complete, or until the pipeline has had ample time.
	eventually(t, func() error {
		if problems := traceProblems(jaegerTraces(t, "/api/traces/"+best.TraceID)[0], "loadgen"); len(problems) > 0 {
			return errors.New(strings.Join(problems, "\n"))
		}
		return nil
	})
}

// traceProblems lists what a checkout trace lacks: a single root, every span's
// parent, a span of the client that started it and of every service, the
// operations of every hop.
func traceProblems(full jaegerTrace, client string) []string {
	var problems []string
	ids := map[string]bool{}
	for _, s := range full.Spans {
		ids[s.SpanID] = true
	}
	services, ops := map[string]bool{}, map[string]bool{}
	roots := 0
	for _, s := range full.Spans {
		svc := full.Processes[s.ProcessID].ServiceName
		services[svc] = true
		ops[svc+": "+s.OperationName] = true
		for _, tag := range s.Tags {
			if tag.Key == "db.system.name" && tag.Value == "postgresql" {
				ops[svc+": postgresql"] = true
			}
		}
		parented := false
		for _, ref := range s.References {
			if ref.RefType == "CHILD_OF" {
				parented = true
				if !ids[ref.SpanID] {
					problems = append(problems, fmt.Sprintf("orphan span %q of %s: parent %s is not in the trace", s.OperationName, svc, ref.SpanID))
				}
			}
		}
		if !parented {
			roots++
		}
	}
	if roots != 1 {
		problems = append(problems, fmt.Sprintf("%d root spans in trace %s, want 1", roots, full.TraceID))
	}
	if m := missing(services, []string{client, "gateway", "orders", "cart", "catalog", "inventory", "payments", "shipping"}); len(m) > 0 {
		problems = append(problems, fmt.Sprintf("trace %s has no span of %v", full.TraceID, m))
	}
	want := []string{
		"gateway: POST /api/checkout", "orders: POST /v1/checkout",
		"inventory: shop.inventory.v1.Inventory/Reserve", "payments: POST /v1/charges",
		"orders: postgresql", "inventory: postgresql", "payments: postgresql", "shipping: postgresql",
		"orders: publish order.placed", "shipping: process order.placed",
	}
	if m := missing(ops, want); len(m) > 0 {
		have := slices.Sorted(maps.Keys(ops))
		problems = append(problems, fmt.Sprintf("trace %s lacks %v; it has:\n%s", full.TraceID, m, strings.Join(have, "\n")))
	}
	return problems
}

func TestPrometheus_ServerDurationForEveryService(t *testing.T) {
	httpServices := []string{"gateway", "users", "catalog", "cart", "orders", "payments", "shipping"}
	eventually(t, func() error {
		got := query(t, `count by (service_name) (http_server_request_duration_seconds_count{http_route!=""})`)
		if m := missing(labelValues(got, "service_name"), httpServices); len(m) > 0 {
			return fmt.Errorf("no http_server_request_duration_seconds with http.route for %v", m)
		}
		if len(query(t, `rpc_server_call_duration_seconds_count{service_name="inventory"}`)) == 0 {
			return fmt.Errorf("no rpc_server_call_duration_seconds for inventory")
		}
		return nil
	})
	// The histogram has buckets a dashboard can take quantiles from.
	q := query(t, `histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{service_name="gateway"}[5m])))`)
	if len(q) != 1 || q[0].float() <= 0 {
		t.Errorf("p99 of the gateway: %v", q)
	}
}

func TestPrometheus_SpanMetricsAndRuntimeMetrics(t *testing.T) {
	eventually(t, func() error {
		calls := labelValues(query(t, `sum by (service_name) (traces_span_metrics_calls_total)`), "service_name")
		if m := missing(calls, serviceNames()); len(m) > 0 {
			return fmt.Errorf("no span metrics for %v", m)
		}
		// Scraped from each process's /metrics by the collector (job "shop").
		scraped := query(t, `go_goroutines{job="shop"}`)
		if len(scraped) != len(app.Registry) {
			return fmt.Errorf("go_goroutines scraped from %d processes, want %d", len(scraped), len(app.Registry))
		}
		runtime := labelValues(query(t, `sum by (service_name) (go_goroutine_count)`), "service_name")
		if m := missing(runtime, serviceNames()); len(m) > 0 {
			return fmt.Errorf("no OpenTelemetry runtime metrics for %v", m)
		}
		return nil
	})
}

// Exemplars on the latency histograms name traces that Jaeger returns.
func TestPrometheus_ExemplarsLeadToJaegerTraces(t *testing.T) {
	end := time.Now()
	start := end.Add(-30 * time.Minute)
	var out struct {
		Data []struct {
			SeriesLabels map[string]string `json:"seriesLabels"`
			Exemplars    []struct {
				Labels map[string]string `json:"labels"`
			} `json:"exemplars"`
		}
	}
	for _, metric := range []string{"traces_span_metrics_duration_milliseconds_bucket", "http_server_request_duration_seconds_bucket"} {
		u := fmt.Sprintf("%s/api/v1/query_exemplars?query=%s&start=%d&end=%d", platform.PrometheusURL, url.QueryEscape(metric), start.Unix(), end.Unix())
		if err := shoptest.GetJSON(context.Background(), u, &out); err != nil {
			t.Fatal(err)
		}
		var traceIDs []string
		for _, series := range out.Data {
			for _, e := range series.Exemplars {
				if id := e.Labels["trace_id"]; id != "" {
					traceIDs = append(traceIDs, id)
				}
			}
		}
		if len(traceIDs) == 0 {
			t.Errorf("%s has no exemplar with a trace_id", metric)
			continue
		}
		found := 0
		for _, id := range traceIDs[:min(10, len(traceIDs))] {
			var tr struct{ Data []jaegerTrace }
			if shoptest.GetJSON(context.Background(), platform.JaegerURL+"/api/traces/"+id, &tr) == nil && len(tr.Data) == 1 {
				found++
			}
		}
		if found == 0 {
			t.Errorf("%s: none of the exemplars' traces %v is in Jaeger", metric, traceIDs[:min(10, len(traceIDs))])
		}
	}
}

// The collector accepted every signal and refused, dropped or failed to send nothing.
func TestCollector_NothingRefusedOrDropped(t *testing.T) {
	for _, signal := range []string{"spans", "metric_points", "log_records"} {
		accepted := query(t, fmt.Sprintf(`sum(otelcol_receiver_accepted_%s_total)`, signal))
		if len(accepted) != 1 || accepted[0].float() == 0 {
			t.Errorf("the collector accepted no %s: %v", signal, accepted)
		}
		for _, bad := range []string{"otelcol_receiver_refused_%s_total", "otelcol_exporter_send_failed_%s_total", "otelcol_exporter_enqueue_failed_%s_total"} {
			name := fmt.Sprintf(bad, signal)
			if got := query(t, fmt.Sprintf(`sum(%s)`, name)); len(got) == 1 && got[0].float() > 0 {
				t.Errorf("%s = %v", name, got[0].float())
			}
		}
	}
}

// Logs exported through the collector (to a file in local mode, to Loki in compose)
// carry trace ids that Jaeger knows.
func TestLogs_CarryTraceIDsJaegerKnows(t *testing.T) {
	f, err := os.Open(platform.LogsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type record struct {
		TraceID string `json:"traceId"`
		Body    struct {
			StringValue string `json:"stringValue"`
		} `json:"body"`
	}
	var withTrace []record
	total := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var batch struct {
			ResourceLogs []struct {
				ScopeLogs []struct {
					LogRecords []record `json:"logRecords"`
				} `json:"scopeLogs"`
			} `json:"resourceLogs"`
		}
		if err := json.Unmarshal(sc.Bytes(), &batch); err != nil {
			t.Fatalf("a line of %s is not OTLP JSON: %v", platform.LogsFile, err)
		}
		for _, rl := range batch.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, r := range sl.LogRecords {
					total++
					if r.TraceID != "" {
						withTrace = append(withTrace, r)
					}
				}
			}
		}
	}
	if len(withTrace) == 0 {
		t.Fatalf("none of %d exported log records has a trace id", total)
	}
	known := 0
	for _, r := range withTrace[len(withTrace)-min(20, len(withTrace)):] {
		var tr struct{ Data []jaegerTrace }
		if shoptest.GetJSON(context.Background(), platform.JaegerURL+"/api/traces/"+r.TraceID, &tr) == nil && len(tr.Data) == 1 {
			known++
		}
	}
	if known == 0 {
		t.Errorf("Jaeger knows none of the trace ids of the last log records (%d of %d records have one)", len(withTrace), total)
	}
}

// Every service's profiler uploaded valid pprof (the stand-in Pyroscope refuses
// anything else), and CPU samples carry the span ids of the requests they served.
func TestProfiles_EveryServiceUploadsSpanLabelledPprof(t *testing.T) {
	// Sample types by service: heap profiles carry alloc_* and inuse_*, mutex and
	// block profiles contentions and delay.
	types := map[string]map[string]bool{}
	for _, u := range platform.Pyroscope.Uploads() {
		if types[u.App] == nil {
			types[u.App] = map[string]bool{}
		}
		for _, st := range u.Profile.SampleType {
			types[u.App][st.Type] = true
		}
	}
	labelled := 0
	for _, svc := range serviceNames() {
		if m := missing(types[svc], []string{"cpu", "alloc_space", "inuse_space", "goroutine", "contentions", "delay"}); len(m) > 0 {
			t.Errorf("%s uploaded no profile with %v samples (uploaded %v)", svc, m, types[svc])
		}
		if n := len(platform.Pyroscope.SpanSamples(svc)); n > 0 {
			labelled++
			t.Logf("%s: CPU samples of %d spans", svc, n)
		}
	}
	// A lightly loaded service may not be on CPU when the profiler samples (100 Hz); the
	// busy ones must be.
	for _, busy := range []string{"gateway", "orders"} {
		if len(platform.Pyroscope.SpanSamples(busy)) == 0 {
			t.Errorf("no CPU sample of %s carries a span id", busy)
		}
	}
	if labelled < len(app.Registry)/2 {
		t.Errorf("only %d of %d services have span-labelled CPU samples", labelled, len(app.Registry))
	}
}

// The figures of the README: start to first trace, request to trace and to metric,
// and every process's memory.
func TestFigures_DelaysAndMemory(t *testing.T) {
	t.Logf("shop start → first trace queryable in Jaeger: %s", platform.FirstTraceAfter.Round(time.Millisecond))

	countQuery := `sum(http_server_request_duration_seconds_count{service_name="gateway",http_route="/api/products/{id}"})`
	before := 0.0
	if got := query(t, countQuery); len(got) == 1 {
		before = got[0].float()
	}
	traceID := shoptest.RandomHex(16)
	req, _ := http.NewRequest("GET", platform.GatewayURL+"/api/products/SKU-00042", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-"+shoptest.RandomHex(8)+"-01")
	sent := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var traceDelay, metricDelay time.Duration
	for deadline := sent.Add(90 * time.Second); time.Now().Before(deadline) && (traceDelay == 0 || metricDelay == 0); time.Sleep(100 * time.Millisecond) {
		if traceDelay == 0 {
			var tr struct{ Data []jaegerTrace }
			if shoptest.GetJSON(context.Background(), platform.JaegerURL+"/api/traces/"+traceID, &tr) == nil && len(tr.Data) == 1 {
				traceDelay = time.Since(sent)
			}
		}
		if metricDelay == 0 {
			if got := query(t, countQuery); len(got) == 1 && got[0].float() > before {
				metricDelay = time.Since(sent)
			}
		}
	}
	if traceDelay == 0 || metricDelay == 0 {
		t.Fatalf("request not queryable within 90s: trace after %s, metric after %s", traceDelay, metricDelay)
	}
	t.Logf("request → its trace queryable in Jaeger: %s", traceDelay.Round(10*time.Millisecond))
	t.Logf("request → its metric queryable in Prometheus: %s", metricDelay.Round(10*time.Millisecond))

	totalKiB := 0
	var lines []string
	for _, b := range platform.Stack.Backends() {
		kib, err := rssKiB(b.PID)
		if err != nil {
			t.Errorf("RSS of %s: %v", b.Name, err)
			continue
		}
		totalKiB += kib
		lines = append(lines, fmt.Sprintf("%-10s %6.1f MiB (ready after %s)", b.Name, float64(kib)/1024, b.ReadyAfter.Round(time.Millisecond)))
	}
	t.Logf("RSS after the load run:\n%s\ntotal      %6.1f MiB", strings.Join(lines, "\n"), float64(totalKiB)/1024)
	var stored struct{ Data []struct{ Spans []struct{} } }
	if err := shoptest.GetJSON(context.Background(), platform.JaegerURL+"/api/traces?service=loadgen&limit=100000&lookback=2h", &stored); err == nil {
		spans := 0
		for _, tr := range stored.Data {
			spans += len(tr.Spans)
		}
		t.Logf("Jaeger holds %d load generator traces, %d spans (%.1f spans a trace)", len(stored.Data), spans, float64(spans)/float64(max(len(stored.Data), 1)))
	}
	for _, store := range slices.Sorted(maps.Keys(platform.StorePeaks)) {
		t.Logf("%s peak during the load (PSS of all its processes): %.1f MiB", store, float64(platform.StorePeaks[store])/1024)
	}
}
