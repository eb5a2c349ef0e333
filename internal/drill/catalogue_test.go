package drill

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/flags"
)

// Every declared fault has a drill, every drill a fault, a variant of the
// shipped file, and an alert of the shipped rules with a runbook.
func TestCatalogue_CoversEveryFaultWithShippedAlerts(t *testing.T) {
	root := filepath.Join("..", "..")
	known := app.Faults()
	list, err := flags.List(filepath.Join(root, "deploy", "flags", "shop.flags.json"), known)
	if err != nil {
		t.Fatal(err)
	}
	variants := map[string][]string{}
	for _, s := range list {
		variants[s.Key] = s.Variants
	}
	alerts := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(root, "deploy", "prometheus", "rules", "*.yml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Groups []struct {
				Rules []struct {
					Alert       string            `yaml:"alert"`
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range doc.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					alerts[r.Alert] = true
				}
			}
		}
	}
	drilled := map[string]bool{}
	kinds := map[string]bool{}
	for _, d := range Catalogue {
		drilled[d.Fault] = true
		kinds[d.Kind] = true
		if !slices.Contains(variants[d.Fault], d.Variant) {
			t.Errorf("%s: variant %q not in the shipped file (%v)", d.Fault, d.Variant, variants[d.Fault])
		}
		if !alerts[d.Alert] {
			t.Errorf("%s: alert %s is in no rule file", d.Fault, d.Alert)
		}
		if _, err := os.Stat(filepath.Join(root, "docs", "runbooks", d.Alert+".md")); err != nil {
			t.Errorf("%s: no runbook for %s: %v", d.Fault, d.Alert, err)
		}
		if d.Evidence == nil || d.Evidence.Describe() == "" {
			t.Errorf("%s: no evidence", d.Fault)
		}
	}
	for _, sp := range known {
		if !drilled[sp.Key] {
			t.Errorf("fault %s (%s) has no drill", sp.Key, sp.Service)
		}
	}
	if len(kinds) < 5 {
		t.Errorf("the drills cover %d kinds of failure", len(kinds))
	}
}
