package drill

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/otelshop/shop/deploy/prometheus/rules"
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
	all, err := rules.Load(filepath.Join(root, "deploy", "prometheus", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.Alert != "" {
			alerts[r.Alert] = true
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

// make drills runs the catalogue in waves: every drill exactly once, in catalogue
// order within a wave, never two of one service at once, and no more waves than
// the busiest service has drills.
func TestWaves_OneDrillPerServiceAtOnce(t *testing.T) {
	drills := Catalogue
	perService := map[string]int{}
	for _, d := range drills {
		perService[d.Labels["service_name"]]++
	}
	busiest := 0
	for _, n := range perService {
		busiest = max(busiest, n)
	}
	waves := Waves(drills)
	if len(waves) != busiest {
		t.Errorf("%d waves, want %d (the busiest service's drills)", len(waves), busiest)
	}
	seen := map[int]bool{}
	for w, wave := range waves {
		services := map[string]bool{}
		for j, i := range wave {
			if seen[i] {
				t.Errorf("drill %s in two waves", drills[i].Fault)
			}
			seen[i] = true
			svc := drills[i].Labels["service_name"]
			if services[svc] {
				t.Errorf("wave %d holds two drills of %s", w, svc)
			}
			services[svc] = true
			if j > 0 && wave[j-1] >= i {
				t.Errorf("wave %d out of catalogue order: %v", w, wave)
			}
		}
	}
	if len(seen) != len(drills) {
		t.Errorf("%d of %d drills in the waves", len(seen), len(drills))
	}
}

// A trace's transactions: pgx's begin (with or without options) against its
// commit or rollback, whatever the case.
func TestTransactions_BegunAgainstEnded(t *testing.T) {
	began, ended := transactions([]string{"begin", "SELECT 1", "COMMIT", "begin isolation level serializable", "", "rollback", "begin"})
	if began != 3 || ended != 2 {
		t.Errorf("began %d, ended %d; want 3 and 2", began, ended)
	}
}
