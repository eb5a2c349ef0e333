package rules

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/otelshop/shop/internal/drill"
)

// runbooksDir is docs/runbooks, seen from this package.
var runbooksDir = filepath.Join("..", "..", "..", "docs", "runbooks")

// alertRule is an alerting rule as the runbooks describe it.
type alertRule struct {
	file, severity, runbookURL string
}

// alertRules reads every alerting rule of the rule files, by name.
func alertRules(t *testing.T) map[string]alertRule {
	t.Helper()
	out := map[string]alertRule{}
	all, err := Load(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.Alert == "" {
			continue
		}
		if prev, dup := out[r.Alert]; dup {
			t.Errorf("alert %s defined in %s and %s", r.Alert, prev.file, r.File)
		}
		out[r.Alert] = alertRule{file: r.File, severity: r.Labels["severity"], runbookURL: r.Annotations["runbook_url"]}
	}
	if len(out) == 0 {
		t.Fatal("no alerting rules")
	}
	return out
}

// Every alert has a runbook_url, and its page exists: an alert nobody can
// look up is not finished.
func TestRunbooks_EveryAlertHasOne(t *testing.T) {
	const base = "https://github.com/otelshop/shop/blob/main/docs/runbooks/"
	alerts := alertRules(t)
	for name, r := range alerts {
		if want := base + name + ".md"; r.runbookURL != want {
			t.Errorf("%s (%s): runbook_url %q, want %q", name, r.file, r.runbookURL, want)
		}
		if _, err := os.Stat(filepath.Join(runbooksDir, name+".md")); err != nil {
			t.Errorf("%s (%s): no runbook: %v", name, r.file, err)
		}
	}
	pages, err := filepath.Glob(filepath.Join(runbooksDir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		if name := strings.TrimSuffix(filepath.Base(p), ".md"); name != "README" {
			if _, ok := alerts[name]; !ok {
				t.Errorf("%s: no rule file defines alert %s", p, name)
			}
		}
	}
}

var (
	headerSeverity = regexp.MustCompile("(?m)^\\| Severity \\| `([a-z]+)` \\|$")
	headerRule     = regexp.MustCompile("(?m)^\\| Rule \\| \\[`deploy/prometheus/rules/([a-z]+\\.yml)`\\]")
	headerDrills   = regexp.MustCompile(`(?m)^\| Drills \| (.*) \|$`)
	drillCommand   = regexp.MustCompile("`shop drill ([A-Za-z]+)`")
	indexRow       = regexp.MustCompile(`(?m)^\| (Shop[A-Za-z]+) \| ([a-z]+) \| ([a-z]+\.yml) \| \[[A-Za-z]+\]\(([A-Za-z]+)\.md\) \| ([^|]*) \|$`)
	firstWord      = regexp.MustCompile(`^[A-Za-z]+`)
)

// The runbooks agree with the rules and the drill catalogue: each page's
// header names its alert's severity and rule file, and the drills whose
// alert it is (internal/drill.Catalogue); the index lists every alert the
// same way. A drill that moves to another alert, or a severity that changes,
// fails here until the pages say so.
func TestRunbooks_AgreeWithRulesAndDrills(t *testing.T) {
	alerts := alertRules(t)
	drillsOf := map[string][]string{}
	for _, d := range drill.Catalogue {
		if _, ok := alerts[d.Alert]; !ok {
			t.Errorf("drill %s expects alert %s, which no rule file defines", d.Fault, d.Alert)
		}
		drillsOf[d.Alert] = append(drillsOf[d.Alert], d.Fault)
	}
	for name, r := range alerts {
		b, err := os.ReadFile(filepath.Join(runbooksDir, name+".md"))
		if err != nil {
			continue // TestRunbooks_EveryAlertHasOne reports it
		}
		page := string(b)
		if !headerSeverity.MatchString(page) {
			// A page without the header table (ShopLedgerDiscrepancy's own layout)
			// must still name its drills, if it has any.
			for _, fault := range drillsOf[name] {
				if !strings.Contains(page, "`shop drill "+fault+"`") {
					t.Errorf("%s.md: does not name its drill `shop drill %s`", name, fault)
				}
			}
			continue
		}
		if m := headerSeverity.FindStringSubmatch(page); m[1] != r.severity {
			t.Errorf("%s.md: severity %s, the rule says %s", name, m[1], r.severity)
		}
		if m := headerRule.FindStringSubmatch(page); m == nil || m[1] != filepath.Base(r.file) {
			t.Errorf("%s.md: rule file %v, the alert is in %s", name, m, r.file)
		}
		m := headerDrills.FindStringSubmatch(page)
		if m == nil {
			t.Errorf("%s.md: no Drills row", name)
			continue
		}
		var named []string
		for _, c := range drillCommand.FindAllStringSubmatch(m[1], -1) {
			named = append(named, c[1])
		}
		slices.Sort(named)
		want := slices.Sorted(slices.Values(drillsOf[name]))
		if !slices.Equal(named, want) {
			t.Errorf("%s.md: Drills row names %v, the catalogue's drills of %s are %v", name, named, name, want)
		}
		if len(want) == 0 && strings.TrimSpace(m[1]) != "none" {
			t.Errorf("%s.md: Drills row %q, want none", name, m[1])
		}
	}

	b, err := os.ReadFile(filepath.Join(runbooksDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, row := range indexRow.FindAllStringSubmatch(string(b), -1) {
		name, severity, file, page, drills := row[1], row[2], row[3], row[4], row[5]
		listed[name] = true
		r, ok := alerts[name]
		switch {
		case !ok:
			t.Errorf("README: lists %s, which no rule file defines", name)
			continue
		case severity != r.severity || file != filepath.Base(r.file) || page != name:
			t.Errorf("README: %s row says %s, %s, %s.md; the rule: %s, %s", name, severity, file, page, r.severity, filepath.Base(r.file))
		}
		var named []string
		for _, d := range strings.Split(drills, ",") {
			if w := firstWord.FindString(strings.TrimSpace(d)); w != "" && w != "none" {
				named = append(named, w)
			}
		}
		slices.Sort(named)
		if want := slices.Sorted(slices.Values(drillsOf[name])); !slices.Equal(named, want) {
			t.Errorf("README: %s's drills are %v, the catalogue's are %v", name, named, want)
		}
	}
	for name := range alerts {
		if !listed[name] {
			t.Errorf("README: no row for %s", name)
		}
	}
}
