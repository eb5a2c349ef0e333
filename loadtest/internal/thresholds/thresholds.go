// Package thresholds owns the pass/fail rules of a run: their grammar
// ("[ENDPOINT:]METRIC OP LIMIT", e.g. "p95<300ms", "GET /api/products:p99<100ms",
// "errors<1%", "missed<1%", "rps>=40") and their evaluation against the run's figures.
package thresholds

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otelshop/shop/loadtest/internal/format"
	"github.com/otelshop/shop/loadtest/internal/stats"
)

// Threshold is one pass/fail rule, e.g. "p95<300ms", "GET /api/products:p99<100ms",
// "errors<1%", "missed<1%", "rps>=40".
type Threshold struct {
	expr     string
	endpoint string  // "" for the whole run, else an endpoint name such as "GET /api/products"
	metric   string  // "p", "avg", "max", "min", "errors", "missed", "rps"
	pct      float64 // the percentile, when metric is "p"
	op       string  // "<", "<=", ">", ">="
	limit    float64 // seconds for latencies, a ratio for errors and missed, per second for rps
}

// Result is a threshold checked against a run.
type Result struct {
	Expr   string  `json:"expr"`
	OK     bool    `json:"ok"`
	Actual string  `json:"actual"`            // formatted like the limit, e.g. "212ms" or "0.4%"
	Value  float64 `json:"value"`             // seconds, ratio or per second
	NoData bool    `json:"no_data,omitempty"` // nothing was measured in its scope, which fails it
}

// Parse validates expr against the endpoints this run can produce, so a typo in an
// endpoint name fails before any request instead of silently never matching.
func Parse(expr string, known []string) (Threshold, error) {
	t := Threshold{expr: strings.TrimSpace(expr)}
	rule := t.expr
	// Endpoint names never contain ':' and neither do rules, so the last ':' splits them.
	if i := strings.LastIndex(rule, ":"); i >= 0 {
		t.endpoint = strings.Join(strings.Fields(rule[:i]), " ")
		rule = rule[i+1:]
		if !slices.Contains(known, t.endpoint) {
			return t, fmt.Errorf("threshold %q: unknown endpoint %q (known: %s)", expr, t.endpoint, strings.Join(known, ", "))
		}
	}
	opAt := strings.IndexAny(rule, "<>")
	if opAt < 0 {
		return t, fmt.Errorf("threshold %q: want METRIC<LIMIT or METRIC>LIMIT, e.g. p95<300ms", expr)
	}
	t.op = rule[opAt : opAt+1]
	rest := rule[opAt+1:]
	if strings.HasPrefix(rest, "=") {
		t.op += "="
		rest = rest[1:]
	}
	name := strings.ToLower(strings.TrimSpace(rule[:opAt]))
	value := strings.TrimSpace(rest)

	switch {
	case name == "errors" || name == "missed":
		t.metric = name
		if name == "missed" && t.endpoint != "" {
			return t, fmt.Errorf("threshold %q: missed starts are counted for the whole run, not per endpoint", expr)
		}
		r, err := parseRatio(value)
		if err != nil {
			return t, fmt.Errorf("threshold %q: %w", expr, err)
		}
		t.limit = r
	case name == "rps":
		t.metric = name
		v, err := strconv.ParseFloat(value, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) {
			return t, fmt.Errorf("threshold %q: rps wants a non-negative number, got %q", expr, value)
		}
		t.limit = v
	case name == "avg" || name == "mean" || name == "max" || name == "min" || name == "med" || strings.HasPrefix(name, "p"):
		switch name {
		case "mean":
			t.metric = "avg"
		case "med":
			t.metric, t.pct = "p", 50
		case "avg", "max", "min":
			t.metric = name
		default:
			p, err := strconv.ParseFloat(name[1:], 64)
			if err != nil || p <= 0 || p > 100 {
				return t, fmt.Errorf("threshold %q: %q is not a percentile (p50, p95, p99.9, …)", expr, name)
			}
			t.metric, t.pct = "p", p
		}
		d, err := time.ParseDuration(value)
		if err != nil {
			return t, fmt.Errorf("threshold %q: latency limit %q wants a unit, e.g. 300ms: %w", expr, value, err)
		}
		if d < 0 {
			return t, fmt.Errorf("threshold %q: latency limit is negative", expr)
		}
		t.limit = d.Seconds()
	default:
		return t, fmt.Errorf("threshold %q: unknown metric %q (want pNN, avg, min, max, errors, missed or rps)", expr, name)
	}
	return t, nil
}

// parseRatio reads "1%", "0.5%" or a plain fraction such as "0.01".
func parseRatio(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a ratio (want e.g. 1%% or 0.01)", s)
	}
	if pct {
		v /= 100
	}
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("%q is outside 0%%..100%%", s)
	}
	return v, nil
}

// latencyStatistics maps the latency metrics to what the recorder computes.
var latencyStatistics = map[string]stats.Statistic{"p": stats.Quantile, "avg": stats.Mean, "min": stats.Min, "max": stats.Max}

// Metric is what the threshold measures: "p", "avg", "min", "max", "errors", "missed"
// or "rps".
func (t Threshold) Metric() string { return t.metric }

// holds compares a measured value against the limit.
func (t Threshold) holds(v float64) bool {
	switch t.op {
	case "<":
		return v < t.limit
	case "<=":
		return v <= t.limit
	case ">":
		return v > t.limit
	default:
		return v >= t.limit
	}
}

// format shows a measured value in the threshold's own unit.
func (t Threshold) format(v float64) string {
	switch t.metric {
	case "errors", "missed":
		return strconv.FormatFloat(v*100, 'f', -1, 64) + "%"
	case "rps":
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return format.Duration(time.Duration(v * float64(time.Second)))
	}
}

// Input is what the thresholds are checked against; stats.Recorder provides it.
type Input interface {
	// Latency returns the statistic in seconds over the endpoint ("" = all) and the
	// number of samples it is based on.
	Latency(endpoint string, stat stats.Statistic, pct float64) (seconds float64, samples int64)
	ErrorRatio(endpoint string) (ratio float64, samples int64)
	MissedRatio() (ratio float64, scheduled int64)
	Throughput(endpoint string) (perSecond float64, samples int64)
}

func (t Threshold) check(in Input) (Result, int64) {
	var v float64
	var n int64
	switch t.metric {
	case "errors":
		v, n = in.ErrorRatio(t.endpoint)
	case "missed":
		v, n = in.MissedRatio()
	case "rps":
		v, n = in.Throughput(t.endpoint)
	default:
		v, n = in.Latency(t.endpoint, latencyStatistics[t.metric], t.pct)
	}
	res := Result{Expr: t.expr, Value: v, Actual: t.format(v)}
	if n == 0 {
		// A rule about something that never happened cannot be said to hold.
		res.NoData, res.Actual = true, "no data"
		return res, 0
	}
	res.OK = t.holds(v)
	return res, n
}

// Check checks every threshold; ok says they all held.
func Check(ts []Threshold, in Input) (results []Result, ok bool) {
	ok = true
	for _, t := range ts {
		r, _ := t.check(in)
		results = append(results, r)
		ok = ok && r.OK
	}
	return results, ok
}

// MinAbortSamples keeps -abort-on-fail from stopping a run on its first few requests,
// when one slow connection set-up can break a percentile that would hold overall.
const MinAbortSamples = 100

// BrokenEarly reports the first threshold that fails on enough data to abort the run.
// Throughput is left out: a run that has just started always looks slow.
func BrokenEarly(ts []Threshold, in Input) (Result, bool) {
	for _, t := range ts {
		if t.metric == "rps" {
			continue
		}
		r, n := t.check(in)
		if n >= MinAbortSamples && !r.OK {
			return r, true
		}
	}
	return Result{}, false
}
