package drill

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

func show(d Duration, ok bool) string {
	if !ok {
		return "-"
	}
	return time.Duration(d).Round(time.Second).String()
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

// Text writes the results as a table, then each drill's evidence or problem.
func Text(w io.Writer, results []Result, resolve bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FAULT\tVARIANT\tKIND\tALERT\tDETECTED\tIN\tEXPLAINED\tRESOLVED IN")
	for _, r := range results {
		resolved := "not measured"
		if resolve {
			resolved = show(r.TimeToResolve, r.Resolved)
			if !r.Resolved {
				resolved = "NO"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s{%s}\t%s\t%s\t%s\t%s\n", r.Fault, r.Variant, r.Kind, r.Alert, r.Labels, yes(r.Detected),
			show(r.TimeToDetect, r.Detected), yes(r.Explained), resolved)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range results {
		if r.Explained {
			fmt.Fprintf(w, "%s: %s\n", r.Fault, r.Evidence)
		}
		if r.Problem != "" {
			fmt.Fprintf(w, "%s: PROBLEM: %s\n", r.Fault, r.Problem)
		}
	}
}

// Markdown writes the results as a Markdown table.
func Markdown(w io.Writer, results []Result, resolve bool) {
	fmt.Fprintln(w, "| fault | variant | kind | alert | detected in | evidence found | resolved in |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, r := range results {
		detected := "**not detected**"
		if r.Detected {
			detected = show(r.TimeToDetect, true)
		}
		evidence := "**not explained**: " + r.Problem
		if r.Explained {
			evidence = r.Evidence
		}
		resolved := "not measured"
		if resolve {
			resolved = "**not resolved**"
			if r.Resolved {
				resolved = show(r.TimeToResolve, true)
			}
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | `%s` | %s | %s | %s |\n", r.Fault, cell(r.Variant), r.Kind, r.Alert, detected, cell(evidence), resolved)
	}
}

// JSON writes the results as a JSON array.
func JSON(w io.Writer, results []Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}
