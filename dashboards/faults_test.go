package dashboards

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The overview and the service dashboard mark fault flag changes: an
// annotation for a fault going on and one for it going off, on the
// Prometheus datasource, with the flag's key in the title.
func TestFaultAnnotations_OnOverviewAndServiceDashboard(t *testing.T) {
	want := map[string]map[bool]string{
		"shop-overview": {true: FlagChangeExpr(true), false: FlagChangeExpr(false)},
		"shop-service": {true: FlagChangeExpr(true, `service_name="$process"`),
			false: FlagChangeExpr(false, `service_name="$process"`)},
	}
	for _, f := range readCommitted(t) {
		uid := deref(f.Dashboard.Uid)
		exprs, ok := want[uid]
		if !ok {
			continue
		}
		found := map[string]bool{}
		for _, a := range f.Dashboard.Annotations.List {
			e := expr(a.Target)
			if e == "" {
				continue
			}
			found[e] = true
			if ds := datasourceOf(a.Datasource); ds == nil || *ds != Prometheus {
				t.Errorf("%s annotation %s: datasource %v, want %v", uid, a.Name, ds, Prometheus)
			}
			if !strings.Contains(deref(a.TitleFormat), "{{feature_flag_key}}") {
				t.Errorf("%s annotation %s: title %q does not name the flag", uid, a.Name, deref(a.TitleFormat))
			}
			if !a.Enable {
				t.Errorf("%s annotation %s is not enabled", uid, a.Name)
			}
		}
		for on, e := range exprs {
			if !found[e] {
				t.Errorf("%s: no annotation with the fault-%v query %s", uid, map[bool]string{true: "on", false: "off"}[on], e)
			}
		}
		delete(want, uid)
	}
	for uid := range want {
		t.Errorf("dashboard %s not found", uid)
	}
}

// Every dashboard links to the runbooks' index.
func TestDashboards_LinkToTheRunbooks(t *testing.T) {
	for _, f := range readCommitted(t) {
		found := false
		for _, l := range f.Dashboard.Links {
			found = found || deref(l.Url) == RunbookBase+"README.md"
		}
		if !found {
			t.Errorf("%s: no link to %sREADME.md", deref(f.Dashboard.Title), RunbookBase)
		}
	}
}

// The annotation queries, as the committed dashboards hold them, mark a fault
// switched on and later off, once each and on the right side, and nothing for a
// flag that never changed or a process that starts (its counter starts at 0).
// promtool evaluates them over series shaped as the services export them
// (every 10 s, one series per process and flag).
func TestFaultAnnotations_MarkAFaultSwitchedOnAndOff(t *testing.T) {
	promtool, err := filepath.Abs(filepath.Join("..", "bin", "promtool"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(promtool); err != nil {
		t.Skipf("bin/promtool not built (make tools): %v", err)
	}
	type sample struct {
		Labels string  `yaml:"labels"`
		Value  float64 `yaml:"value"`
	}
	type exprTest struct {
		Expr     string   `yaml:"expr"`
		EvalTime string   `yaml:"eval_time"`
		Samples  []sample `yaml:"exp_samples"`
	}
	type series struct {
		Series string `yaml:"series"`
		Values string `yaml:"values"`
	}
	// paymentsSlowProcessor goes on at 5m and off at 10m; the payments and
	// orders processes both read the file; a second payments process starts at
	// 8m with the flag on (not a change); cartMemoryLeak never changes.
	var input []series
	for _, p := range []struct{ service, instance, changes, active string }{
		{"payments", "a", "0x29 1x29 2x29", "0x29 1x29 0x29"},
		{"orders", "b", "0x29 1x29 2x29", "0x29 1x29 0x29"},
		{"payments", "c", "_x47 0x11 1x29", "_x47 1x11 0x29"},
	} {
		for _, key := range []string{"paymentsSlowProcessor", "cartMemoryLeak"} {
			changes, active := p.changes, p.active
			if key == "cartMemoryLeak" {
				changes, active = strings.ReplaceAll(strings.ReplaceAll(changes, "1x", "0x"), "2x", "0x"), strings.ReplaceAll(active, "1x", "0x")
			}
			labels := `{deployment_environment_name="test", service_name="` + p.service + `", service_instance_id="` + p.instance + `", feature_flag_key="` + key + `"}`
			input = append(input, series{flagChanges + labels, changes}, series{flagActive + labels, active})
		}
	}
	vars := strings.NewReplacer("$__rate_interval", "1m", "$env", "test", "$process", "payments")
	marked := []sample{{`{feature_flag_key="paymentsSlowProcessor"}`, 1}}
	var tests []exprTest
	for _, f := range readCommitted(t) {
		for _, a := range f.Dashboard.Annotations.List {
			e := expr(a.Target)
			if !strings.Contains(e, flagChanges) {
				continue
			}
			// count: one sample per flag marked, whatever the increase.
			e = "count by (feature_flag_key) (" + vars.Replace(e) + ")"
			// Which way the annotation says the fault went, as its title tells the reader.
			on := !strings.HasSuffix(deref(a.TitleFormat), " off")
			for _, at := range []struct {
				time    string
				on, off bool
			}{
				{"4m50s", false, false}, // before the change
				{"5m30s", true, false},  // just after it went on
				{"7m", false, false},    // two minutes later
				{"8m30s", false, false}, // just after a process started with it on
				{"10m30s", false, true}, // just after it went off
				{"12m", false, false},   // two minutes later
			} {
				var want []sample
				if on && at.on || !on && at.off {
					want = marked
				}
				tests = append(tests, exprTest{e, at.time, want})
			}
		}
	}
	if len(tests) == 0 {
		t.Fatal("no dashboard has a fault annotation")
	}
	file := map[string]any{
		"evaluation_interval": "10s",
		"tests":               []map[string]any{{"interval": "10s", "input_series": input, "promql_expr_test": tests}},
	}
	b, err := yaml.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "annotations_test.yml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "test", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s\n%s", err, out, b)
	}
	t.Logf("%d evaluations of the fault annotations passed", len(tests))
}
