package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelshop/shop/loadtest/internal/gatewaytest"
	"github.com/otelshop/shop/loadtest/internal/report"
)

// The reports of a real run: the HTML is self-contained, draws its charts and links
// the slowest requests to their traces; the JSON parses and agrees with the trace ids
// the spans carry.
func TestReports_HTMLLinksTraces_JSONParses(t *testing.T) {
	const runID = "test-reports"
	srv := httptest.NewServer(gatewaytest.New(runID, 60).Handler())
	t.Cleanup(srv.Close)
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	dir := t.TempDir()
	htmlPath, jsonPath := filepath.Join(dir, "report.html"), filepath.Join(dir, "report.json")
	var stdout, stderr bytes.Buffer
	err := Main(context.Background(), []string{
		"-target", srv.URL, "-run-id", runID, "-rate", "40", "-duration", "1s", "-think", "0",
		"-html", htmlPath, "-json", jsonPath, "-top", "10",
		"-threshold", "p99<5s", "-threshold", "GET /api/products/{id}:errors<1%",
	}, testEnv(map[string]string{"JAEGER_UI_URL": "http://jaeger.example:16686"}), &stdout, &stderr, Telemetry{TracerProvider: tp})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}

	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatalf("JSON does not parse: %v", err)
	}
	for _, key := range []string{"run_id", "latency_ms", "service_time_ms", "endpoints", "timeline", "slowest", "thresholds", "missed_starts", "errors_by_kind"} {
		if _, ok := generic[key]; !ok {
			t.Errorf("JSON lacks %q", key)
		}
	}
	var s report.Summary
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Slowest) != 10 || len(s.Thresholds) != 2 || !s.Passed {
		t.Fatalf("slowest %d, thresholds %+v, passed %v", len(s.Slowest), s.Thresholds, s.Passed)
	}
	traceIDs := map[string]bool{}
	for _, sp := range spans.GetSpans() {
		traceIDs[sp.SpanContext.TraceID().String()] = true
	}
	for i, sl := range s.Slowest {
		if !traceIDs[sl.TraceID] {
			t.Errorf("slowest[%d] trace id %q is not one the generator's spans had", i, sl.TraceID)
		}
		if want := "http://jaeger.example:16686/trace/" + sl.TraceID; sl.TraceURL != want {
			t.Errorf("slowest[%d] link %q, want %q", i, sl.TraceURL, want)
		}
		if i > 0 && sl.LatencyMS > s.Slowest[i-1].LatencyMS {
			t.Errorf("slowest not sorted at %d", i)
		}
	}

	page, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{
		`<a href="http://jaeger.example:16686/trace/` + s.Slowest[0].TraceID + `">`,
		"<svg", "Throughput", "Latency percentiles over time", "Errors by endpoint", "GET /api/products/{id}",
		"p99&lt;5s", "PASSED",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	// Self-contained: nothing is fetched when it is opened.
	if m := regexp.MustCompile(`(?i)<(script|link|img|iframe)[^>]*(src|href)=|@import|url\(`).FindString(html); m != "" {
		t.Errorf("HTML references an external asset: %q", m)
	}
	if n := strings.Count(html, "<polyline"); n < 3 {
		t.Errorf("%d chart lines drawn, want throughput and latency series", n)
	}
}
