package thresholds

import (
	"strings"
	"testing"

	"github.com/otelshop/shop/loadtest/internal/gateway"
	"github.com/otelshop/shop/loadtest/internal/stats"
)

func TestParseThreshold(t *testing.T) {
	known := gateway.Names(gateway.Endpoints())
	tests := []struct {
		expr    string
		want    Threshold
		wantErr string
	}{
		{expr: "p95<300ms", want: Threshold{metric: "p", pct: 95, op: "<", limit: 0.3}},
		{expr: "p99.9<=1s", want: Threshold{metric: "p", pct: 99.9, op: "<=", limit: 1}},
		{expr: "GET /api/products:p99<100ms", want: Threshold{endpoint: "GET /api/products", metric: "p", pct: 99, op: "<", limit: 0.1}},
		{expr: "GET  /api/products/{id} : avg < 20ms", want: Threshold{endpoint: "GET /api/products/{id}", metric: "avg", op: "<", limit: 0.02}},
		{expr: "errors<1%", want: Threshold{metric: "errors", op: "<", limit: 0.01}},
		{expr: "POST /api/checkout:errors<=0.05", want: Threshold{endpoint: "POST /api/checkout", metric: "errors", op: "<=", limit: 0.05}},
		{expr: "missed<1%", want: Threshold{metric: "missed", op: "<", limit: 0.01}},
		{expr: "rps>=40", want: Threshold{metric: "rps", op: ">=", limit: 40}},
		{expr: "max<2s", want: Threshold{metric: "max", op: "<", limit: 2}},
		{expr: "med<50ms", want: Threshold{metric: "p", pct: 50, op: "<", limit: 0.05}},
		{expr: "p95", wantErr: "want METRIC<LIMIT"},
		{expr: "p95<300", wantErr: "wants a unit"},
		{expr: "p101<1s", wantErr: "not a percentile"},
		{expr: "px<1s", wantErr: "not a percentile"},
		{expr: "latency<1s", wantErr: "unknown metric"},
		{expr: "errors<abc", wantErr: "not a ratio"},
		{expr: "errors<150%", wantErr: "outside"},
		{expr: "GET /api/product:p99<1s", wantErr: `unknown endpoint "GET /api/product"`},
		{expr: "GET /api/products/SKU-00042:p99<1s", wantErr: "unknown endpoint"},
		{expr: "GET /api/products:missed<1%", wantErr: "whole run"},
		{expr: "rps>-1", wantErr: "non-negative"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := Parse(tt.expr, known)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.expr = ""
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// fakeInput answers the thresholds with fixed figures.
type fakeInput struct {
	p95, p99, avg, max float64 // seconds, whole run
	epP99              float64
	requests, errors   int64
	scheduled, missed  int64
	rps                float64
}

func (f fakeInput) Latency(endpoint string, stat stats.Statistic, pct float64) (float64, int64) {
	if endpoint != "" {
		if endpoint == "GET /api/products" {
			return f.epP99, 10
		}
		return 0, 0
	}
	switch {
	case stat == stats.Mean:
		return f.avg, f.requests
	case stat == stats.Max:
		return f.max, f.requests
	case pct == 95:
		return f.p95, f.requests
	default:
		return f.p99, f.requests
	}
}

func (f fakeInput) ErrorRatio(string) (float64, int64) {
	return stats.Ratio(f.errors, f.requests), f.requests
}
func (f fakeInput) MissedRatio() (float64, int64) {
	return stats.Ratio(f.missed, f.scheduled), f.scheduled
}
func (f fakeInput) Throughput(string) (float64, int64) { return f.rps, f.requests }

func TestThresholds_Evaluate(t *testing.T) {
	in := fakeInput{p95: 0.25, p99: 0.4, avg: 0.05, max: 1.5, epP99: 0.12, requests: 1000, errors: 10, scheduled: 1000, missed: 0, rps: 50}
	tests := []struct {
		expr   string
		ok     bool
		actual string
	}{
		{"p95<300ms", true, "250ms"},
		{"p95<250ms", false, "250ms"},
		{"p95<=250ms", true, "250ms"},
		{"p99<300ms", false, "400ms"},
		{"GET /api/products:p99<100ms", false, "120ms"},
		{"GET /api/products:p99<200ms", true, "120ms"},
		{"errors<1%", false, "1%"},
		{"errors<=1%", true, "1%"},
		{"errors<2%", true, "1%"},
		{"missed<1%", true, "0%"},
		{"rps>=40", true, "50.00"},
		{"rps>60", false, "50.00"},
		{"max<1s", false, "1.50s"},
		{"avg<100ms", true, "50.0ms"},
		{"POST /api/checkout:p99<1s", false, "no data"}, // never called: cannot hold
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			th, err := Parse(tt.expr, gateway.Names(gateway.Endpoints()))
			if err != nil {
				t.Fatal(err)
			}
			res, _ := th.check(in)
			if res.OK != tt.ok || res.Actual != tt.actual {
				t.Errorf("got ok=%v actual=%q, want ok=%v actual=%q", res.OK, res.Actual, tt.ok, tt.actual)
			}
		})
	}

	all := []string{"p95<300ms", "errors<2%"}
	var ts []Threshold
	for _, e := range all {
		th, _ := Parse(e, nil)
		ts = append(ts, th)
	}
	if _, ok := Check(ts, in); !ok {
		t.Error("all thresholds hold, checkThresholds says otherwise")
	}
	th, _ := Parse("p99<300ms", nil)
	if _, ok := Check(append(ts, th), in); ok {
		t.Error("a broken threshold passed")
	}
}

// Aborting needs enough samples, and never aborts on throughput.
func TestThresholds_BrokenEarly(t *testing.T) {
	errs, _ := Parse("errors<1%", nil)
	rps, _ := Parse("rps>100", nil)
	few := fakeInput{requests: MinAbortSamples - 1, errors: 50, rps: 1}
	if _, broken := BrokenEarly([]Threshold{errs, rps}, few); broken {
		t.Error("aborted on fewer samples than MinAbortSamples")
	}
	many := fakeInput{requests: 1000, errors: 50, rps: 1}
	if r, broken := BrokenEarly([]Threshold{rps, errs}, many); !broken || r.Expr != "errors<1%" {
		t.Errorf("got %+v %v, want an abort on errors<1%%", r, broken)
	}
	if _, broken := BrokenEarly([]Threshold{rps}, many); broken {
		t.Error("aborted on rps, which is always low early in a run")
	}
}
