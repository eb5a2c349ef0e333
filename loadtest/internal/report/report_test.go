package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/otelshop/shop/loadtest/internal/gateway"
	"github.com/otelshop/shop/loadtest/internal/schedule"
	"github.com/otelshop/shop/loadtest/internal/thresholds"
)

func TestHTML_EscapesAndMarksFailures(t *testing.T) {
	s := &Summary{
		RunID: "x", Mode: schedule.ModeOpen, Arrival: schedule.ArrivalSessions, StartedAt: time.Now(),
		Requests: 3, Errors: 3, ErrorRatio: 1,
		ErrorsByKind: map[string]int64{gateway.OutcomeHTTP5xx: 3},
		Endpoints: []Endpoint{{
			Name: "GET /<script>alert(1)</script>", Requests: 3, Errors: 3,
			ErrorsByKind: map[string]int64{gateway.OutcomeHTTP5xx: 3}, StatusClasses: map[string]int64{"5xx": 3},
		}},
		Timeline:   Timeline{BucketSec: 1, Points: []TimelinePoint{{T: 0, Requests: 3, Errors: 3, RPS: 3}}},
		Thresholds: []thresholds.Result{{Expr: "errors<1%", Actual: "100%"}},
		Slowest:    []Slow{{Endpoint: "GET /x", LatencyMS: 12, TraceID: "abc"}},
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, s); err != nil {
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
	s := &Summary{RunID: "r1", Target: "http://127.0.0.1:8080", Mode: schedule.ModeOpen, Arrival: schedule.ArrivalSessions,
		Requests: 10, Scheduled: 12, MissedStarts: 2, MissedRatio: 2.0 / 12,
		Latency:    Latency{Count: 10, P50: 5, P99: 120},
		Endpoints:  []Endpoint{{Name: "GET /api/products", Requests: 10, Latency: Latency{Count: 10, P50: 5, P99: 120}}},
		Thresholds: []thresholds.Result{{Expr: "p99<100ms", Actual: "120ms"}},
	}
	if err := WriteText(&b, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FAILED (1 of 1 thresholds broken)", "missed starts 2 of 12 arrivals (16.67%)", "GET /api/products", "FAIL p99<100ms", "120ms"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, b.String())
		}
	}
}
