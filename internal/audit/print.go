package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Print writes the report for a person: one line per check (what it checked, how
// many states were still in flight, what it found), every discrepancy under its
// check, and a last line with the total.
func (r Report) Print(w io.Writer, databases string) error {
	fmt.Fprintf(w, "shop audit of %s at %s; states younger than %s are in flight, not judged\n\n", databases, r.At.Format("2006-01-02 15:04:05Z"), r.Grace)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range r.Checks {
		verdict := "ok"
		if len(c.Discrepancies) > 0 {
			verdict = "FAIL"
		}
		found := fmt.Sprintf("%d checked", c.Checked)
		if c.InFlight > 0 {
			found += fmt.Sprintf(", %d in flight", c.InFlight)
		}
		if n := len(c.Discrepancies); n > 0 {
			found += fmt.Sprintf(", %d %s", n, plural(n, "discrepancy", "discrepancies"))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", verdict, c.Name, found, c.Description)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range r.Checks {
		if len(c.Discrepancies) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", c.Name)
		for _, d := range c.Discrepancies {
			fmt.Fprintf(w, "  %s: %s\n", d.Subject, d.Detail)
		}
	}
	n := r.Discrepancies()
	_, err := fmt.Fprintf(w, "\n%d checks, %d %s\n", len(r.Checks), n, plural(n, "discrepancy", "discrepancies"))
	return err
}

// PrintJSON writes the report as one JSON object.
func (r Report) PrintJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Report
		Discrepancies int `json:"total_discrepancies"`
	}{r, r.Discrepancies()})
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
