package report

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/otelshop/shop/loadtest/internal/format"
	"github.com/otelshop/shop/loadtest/internal/gateway"
	"github.com/otelshop/shop/loadtest/internal/schedule"
)

// WriteJSON writes the -json file.
func WriteJSON(w io.Writer, s *Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// Verdict is the run's result in a few words: PASSED, FAILED, INTERRUPTED, DONE.
func (s *Summary) Verdict() string {
	failed := 0
	for _, t := range s.Thresholds {
		if !t.OK {
			failed++
		}
	}
	switch {
	case s.Interrupted:
		return "INTERRUPTED"
	case s.AbortedOn != "":
		return fmt.Sprintf("FAILED (aborted early on %s)", s.AbortedOn)
	case failed > 0:
		return fmt.Sprintf("FAILED (%d of %d thresholds broken)", failed, len(s.Thresholds))
	case len(s.Thresholds) == 0:
		return "DONE (no thresholds)"
	default:
		return fmt.Sprintf("PASSED (%d thresholds)", len(s.Thresholds))
	}
}

// WriteText writes the text summary.
func WriteText(w io.Writer, s *Summary) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\nloadgen run %s against %s: %s\n", s.RunID, s.Target, s.Verdict())
	load := s.Mode + " model"
	if s.Arrival != "" {
		load += ", " + s.Arrival + " arrive"
	}
	fmt.Fprintf(&b, "  %s, stages %s, think %s, seed %d, ran %s\n\n", load, s.Stages, s.Think, s.Seed, format.Duration(s.Duration()))
	fmt.Fprintf(&b, "  requests      %d (%.1f/s), errors %d (%s)", s.Requests, s.RPS, s.Errors, format.Percent(s.ErrorRatio))
	if s.InterruptedRequests > 0 {
		fmt.Fprintf(&b, ", %d cut off at the end", s.InterruptedRequests)
	}
	b.WriteString("\n")
	if s.Mode == schedule.ModeOpen {
		fmt.Fprintf(&b, "  missed starts %d of %d arrivals (%s)\n", s.MissedStarts, s.Scheduled, format.Percent(s.MissedRatio))
	}
	fmt.Fprintf(&b, "  latency       %s   (from intended start)\n", statsLine(s.Latency))
	fmt.Fprintf(&b, "  service time  %s   (from actual send; hides queueing)\n", statsLine(s.ServiceTime))
	fmt.Fprintf(&b, "  start lag     %s   (generator's own delay, part of latency)\n", statsLine(s.StartLag))
	if len(s.ErrorsByKind) > 0 {
		fmt.Fprintf(&b, "  errors by kind %s\n", kindsLine(s.ErrorsByKind))
	}
	b.WriteString("\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  endpoint\trequests\terrors\tp50\tp90\tp95\tp99\tmax\t")
	for _, e := range s.Endpoints {
		if e.Requests == 0 {
			continue
		}
		l := e.Latency
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", e.Name, e.Requests, format.Percent(e.ErrorRatio),
			format.MS(l.P50), format.MS(l.P90), format.MS(l.P95), format.MS(l.P99), format.MS(l.Max))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range s.Endpoints {
		if e.Errors > 0 {
			fmt.Fprintf(&b, "  errors %s: %s\n", e.Name, kindsLine(e.ErrorsByKind))
		}
	}

	if len(s.Scenarios) > 0 {
		b.WriteString("\n  sessions")
		for _, sc := range s.Scenarios {
			fmt.Fprintf(&b, "  %s %d/%d", sc.Name, sc.Completed, sc.Started)
			if sc.Failed > 0 {
				fmt.Fprintf(&b, " (%d failed)", sc.Failed)
			}
		}
		b.WriteString("  (completed/started)\n")
	}
	if len(s.Thresholds) > 0 {
		b.WriteString("\n  thresholds\n")
		for _, t := range s.Thresholds {
			mark := "ok  "
			if !t.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(&b, "    %s %-36s actual %s\n", mark, t.Expr, t.Actual)
		}
	}
	if len(s.Slowest) > 0 {
		b.WriteString("\n  slowest requests\n")
		for i, sl := range s.Slowest {
			if i == 5 {
				fmt.Fprintf(&b, "    … %d more in the JSON and HTML reports\n", len(s.Slowest)-5)
				break
			}
			ref := sl.TraceURL
			if ref == "" && sl.TraceID != "" {
				ref = "trace " + sl.TraceID + " (not sampled)"
			}
			fmt.Fprintf(&b, "    %8s  %-32s %-18s at %.1fs  %s\n", format.MS(sl.LatencyMS), sl.Endpoint, outcomeText(sl.Status, sl.Outcome), sl.StartSec, ref)
		}
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func statsLine(l Latency) string {
	if l.Count == 0 {
		return "no data"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p95 %s  p99 %s  p99.9 %s  max %s",
		format.MS(l.P50), format.MS(l.P90), format.MS(l.P95), format.MS(l.P99), format.MS(l.P999), format.MS(l.Max))
}

func kindsLine(m map[string]int64) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func outcomeText(status int, outcome string) string {
	if status == 0 {
		return outcome
	}
	if outcome == gateway.OutcomeOK {
		return fmt.Sprint(status)
	}
	return fmt.Sprintf("%d %s", status, outcome)
}
