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
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// The reports of a real run: the HTML is self-contained, draws its charts and links
// the slowest requests to their traces; the JSON parses and agrees with the trace ids
// the spans carry.
func TestReports_HTMLLinksTraces_JSONParses(t *testing.T) {
	const runID = "test-reports"
	fake := newFakeGateway(runID, 60)
	srv := httptest.NewServer(fake.handler())
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
	var s summary
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

func TestHTML_EscapesAndMarksFailures(t *testing.T) {
	s := &summary{
		RunID: "x", Mode: modeOpen, Arrival: arrivalSessions, StartedAt: time.Now(),
		Requests: 3, Errors: 3, ErrorRatio: 1,
		ErrorsByKind: map[string]int64{outcomeHTTP5xx: 3},
		Endpoints: []endpointSummary{{
			Name: "GET /<script>alert(1)</script>", Requests: 3, Errors: 3,
			ErrorsByKind: map[string]int64{outcomeHTTP5xx: 3}, StatusClasses: map[string]int64{"5xx": 3},
		}},
		Timeline:   timelineSummary{BucketSec: 1, Points: []timelinePoint{{T: 0, Requests: 3, Errors: 3, RPS: 3}}},
		Thresholds: []thresholdResult{{Expr: "errors<1%", Actual: "100%"}},
		Slowest:    []slowSummary{{Endpoint: "GET /x", LatencyMS: 12, TraceID: "abc"}},
	}
	var b bytes.Buffer
	if err := writeHTML(&b, s); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	if strings.Contains(html, "<script>") {
		t.Error("an endpoint name reached the page unescaped")
	}
	if !strings.Contains(html, `class="verdict bad"`) || !strings.Contains(html, "FAIL") {
		t.Error("failed threshold not marked")
	}
	if !strings.Contains(html, "(not sampled)") {
		t.Error("an unsampled trace id should be shown without a link")
	}
}

func TestText_Summary(t *testing.T) {
	var b bytes.Buffer
	s := &summary{RunID: "r1", Target: "http://127.0.0.1:8080", Mode: modeOpen, Arrival: arrivalSessions,
		Requests: 10, Scheduled: 12, MissedStarts: 2, MissedRatio: 2.0 / 12,
		Latency:    latencyStats{Count: 10, P50: 5, P99: 120},
		Endpoints:  []endpointSummary{{Name: "GET /api/products", Requests: 10, Latency: latencyStats{Count: 10, P50: 5, P99: 120}}},
		Thresholds: []thresholdResult{{Expr: "p99<100ms", Actual: "120ms"}},
	}
	if err := writeText(&b, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FAILED (1 of 1 thresholds broken)", "missed starts 2 of 12 arrivals (16.67%)", "GET /api/products", "FAIL p99<100ms", "120ms"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, b.String())
		}
	}
}

// A run far longer than planned keeps a fixed number of buckets and loses no counts.
func TestTimeline_LongRun_StaysBounded(t *testing.T) {
	tl := newTimeline(10 * time.Second)
	var total int64
	for s := 0; s < 4*3600; s++ {
		b := tl.at(time.Duration(s) * time.Second)
		b.requests++
		if b.latency == nil {
			b.latency = newBucketHistogram()
		}
		_ = b.latency.RecordValue(1000)
		total++
	}
	if len(tl.buckets) > maxBuckets {
		t.Fatalf("%d buckets, budget %d", len(tl.buckets), maxBuckets)
	}
	var sum, hist int64
	for _, b := range tl.buckets {
		sum += b.requests
		if b.latency != nil {
			hist += b.latency.TotalCount()
		}
	}
	if sum != total || hist != total {
		t.Errorf("counted %d requests, %d latencies, want %d", sum, hist, total)
	}
	if tl.width < time.Minute {
		t.Errorf("bucket width %s after a 4h run", tl.width)
	}
}

func TestSlowest_KeepsTheTopN(t *testing.T) {
	s := newSlowest(3)
	for _, ms := range []int{5, 1, 9, 3, 7, 2, 8} {
		s.offer(slowRequest{Latency: time.Duration(ms) * time.Millisecond})
	}
	got := s.sorted()
	if len(got) != 3 || got[0].Latency != 9*time.Millisecond || got[1].Latency != 8*time.Millisecond || got[2].Latency != 7*time.Millisecond {
		t.Errorf("kept %v", got)
	}
}
