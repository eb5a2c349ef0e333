package dashboards

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The committed JSON is exactly what the Go code generates: nobody edited it
// by hand, and nobody forgot `go generate ./dashboards`.
func TestGenerated_MatchesCommittedJSON(t *testing.T) {
	files, err := Render(All())
	if err != nil {
		t.Fatal(err)
	}
	problems, err := Diff(".", files)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s (run `go generate ./dashboards`)", p)
	}
}

// provisioned reads the datasources Grafana is given: uid → type, plus every
// datasourceUid their cross-signal links name.
func provisioned(t *testing.T) (types map[string]string, linked []string) {
	t.Helper()
	sources, err := ReadDatasources(filepath.Join("..", DatasourcesFile))
	if err != nil {
		t.Fatal(err)
	}
	types = map[string]string{}
	for _, ds := range sources {
		if ds.UID == "" || ds.Type == "" {
			t.Fatalf("datasources.yaml: datasource %q has no uid or type", ds.Name)
		}
		types[ds.UID] = ds.Type
		linked = append(linked, ds.LinkedUIDs()...)
	}
	return types, linked
}

func readCommitted(t *testing.T) []File {
	t.Helper()
	files, err := ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no dashboards")
	}
	return files
}

// Every reference between the provisioned datasources points at one that exists.
func TestDatasources_LinksPointAtProvisionedUIDs(t *testing.T) {
	types, linked := provisioned(t)
	for _, want := range []*DatasourceRef{Prometheus, Jaeger, Loki, Pyroscope} {
		if types[want.UID] != want.Type {
			t.Errorf("datasource uid %q: provisioned type %q, dashboards use %q", want.UID, types[want.UID], want.Type)
		}
	}
	if len(linked) < 5 {
		t.Errorf("only %d cross-signal links (exemplars, traces to logs, profiles, metrics; logs to traces): %v", len(linked), linked)
	}
	for _, uid := range linked {
		if _, ok := types[uid]; !ok {
			t.Errorf("datasources.yaml links to datasource uid %q, which is not provisioned", uid)
		}
	}
}

func TestDashboards_UIDsAndTitlesUnique(t *testing.T) {
	uids, titles := map[string]string{}, map[string]string{}
	for _, f := range readCommitted(t) {
		d := f.Dashboard
		if d.UID == "" || len(d.UID) > 40 {
			t.Errorf("%s: uid %q must be 1 to 40 characters", f.Path, d.UID)
		}
		if prev, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %q", prev, f.Path, d.UID)
		}
		if prev, dup := titles[d.Title]; dup {
			t.Errorf("%s and %s share title %q", prev, f.Path, d.Title)
		}
		uids[d.UID], titles[d.Title] = f.Path, f.Path
		if filepath.Base(f.Path) != d.UID+".json" {
			t.Errorf("%s: file name should be its uid, %s.json", f.Path, d.UID)
		}
		ids := map[int]bool{}
		for _, p := range d.Panels {
			if ids[p.ID] {
				t.Errorf("%s: panel id %d used twice", d.Title, p.ID)
			}
			ids[p.ID] = true
		}
	}
}

// Every datasource a dashboard names is provisioned, by uid and with its type,
// and no dashboard names a datasource by name.
func TestDashboards_DatasourcesAreProvisioned(t *testing.T) {
	types, _ := provisioned(t)
	check := func(where string, ref *DatasourceRef) {
		if ref == nil {
			t.Errorf("%s: no datasource (Grafana would use the default; name it)", where)
			return
		}
		if got, ok := types[ref.UID]; !ok || got != ref.Type {
			t.Errorf("%s: datasource %+v is not provisioned (provisioned: %v)", where, *ref, types)
		}
	}
	for _, f := range readCommitted(t) {
		d := f.Dashboard
		for _, v := range d.Templating.List {
			check(d.Title+" variable "+v.Name, v.Datasource)
		}
		for _, p := range d.AllPanels() {
			check(d.Title+" / "+p.Title, p.Datasource)
			for _, tg := range p.Targets {
				check(d.Title+" / "+p.Title+" query "+tg.RefID, tg.Datasource)
			}
		}
		raw, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{`"datasource": "Prometheus"`, `"datasource": "Jaeger"`, `"datasource": "Loki"`, `"datasource": "Pyroscope"`} {
			if strings.Contains(string(raw), name) {
				t.Errorf("%s names a datasource by name (%s): use its uid", f.Path, name)
			}
		}
	}
}

// Every $variable a query, title, link or variable uses is defined, and
// defined before the variables that use it.
func TestDashboards_TemplateVariablesDefined(t *testing.T) {
	for _, f := range readCommitted(t) {
		d := f.Dashboard
		defined := map[string]bool{}
		for _, v := range d.Templating.List {
			for _, ref := range VariableRefs(v.Query) {
				if !defined[ref] {
					t.Errorf("%s: variable %s uses $%s, defined after it or not at all", d.Title, v.Name, ref)
				}
			}
			if defined[v.Name] {
				t.Errorf("%s: variable %s defined twice", d.Title, v.Name)
			}
			defined[v.Name] = true
		}
		use := func(where, s string) {
			for _, ref := range VariableRefs(s) {
				if !defined[ref] {
					t.Errorf("%s / %s: uses $%s, which the dashboard does not define", d.Title, where, ref)
				}
			}
		}
		for _, l := range d.Links {
			use("link "+l.Title, l.Title+" "+l.URL)
		}
		for _, p := range d.Panels {
			use("row or panel title", p.Title)
		}
		for _, p := range d.AllPanels() {
			use(p.Title, p.Title)
			for _, tg := range p.Targets {
				use(p.Title, tg.Expr)
			}
			for _, l := range panelLinks(p) {
				use(p.Title+" link", l.URL)
			}
		}
	}
}

func panelLinks(p Panel) []Link {
	links := slices.Clone(p.Links)
	if p.FieldConfig != nil {
		links = append(links, p.FieldConfig.Defaults.Links...)
	}
	return links
}

// Every link leads somewhere: /d/<uid> to a provisioned dashboard, /explore
// to a query on a provisioned datasource.
func TestDashboards_LinksResolve(t *testing.T) {
	types, _ := provisioned(t)
	files := readCommitted(t)
	uids := map[string]bool{}
	tags := map[string]bool{}
	for _, f := range files {
		uids[f.Dashboard.UID] = true
		for _, tag := range f.Dashboard.Tags {
			tags[tag] = true
		}
	}
	checkURL := func(where, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			t.Errorf("%s: link %q: %v", where, raw, err)
			return
		}
		switch {
		case strings.HasPrefix(u.Path, "/d/"):
			uid, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/d/"), "/")
			if !uids[uid] {
				t.Errorf("%s: links to dashboard %q, which is not provisioned", where, uid)
			}
		case u.Path == "/explore":
			var panes map[string]struct {
				Datasource string `json:"datasource"`
				Queries    []struct {
					Datasource DatasourceRef `json:"datasource"`
				} `json:"queries"`
			}
			if err := json.Unmarshal([]byte(u.Query().Get("panes")), &panes); err != nil || len(panes) == 0 {
				t.Errorf("%s: explore link without valid panes JSON (%v): %s", where, err, raw)
				return
			}
			for _, pane := range panes {
				if _, ok := types[pane.Datasource]; !ok {
					t.Errorf("%s: explore link on datasource %q, not provisioned", where, pane.Datasource)
				}
				for _, q := range pane.Queries {
					if types[q.Datasource.UID] != q.Datasource.Type {
						t.Errorf("%s: explore query on %+v, not provisioned", where, q.Datasource)
					}
				}
			}
		default:
			t.Errorf("%s: link %q leads neither to a dashboard nor to Explore", where, raw)
		}
	}
	for _, f := range files {
		d := f.Dashboard
		for _, l := range d.Links {
			switch l.Type {
			case "dashboards":
				for _, tag := range l.Tags {
					if !tags[tag] {
						t.Errorf("%s: link %q lists dashboards tagged %q: there are none", d.Title, l.Title, tag)
					}
				}
			case "link":
				checkURL(d.Title+" link "+l.Title, l.URL)
			default:
				t.Errorf("%s: link %q of type %q", d.Title, l.Title, l.Type)
			}
		}
		for _, p := range d.AllPanels() {
			for _, l := range panelLinks(p) {
				checkURL(d.Title+" / "+p.Title, l.URL)
			}
		}
	}
	// The service dashboard links to the service's traces, logs and flame graph.
	service := Service()
	for _, want := range []string{Jaeger.UID, Loki.UID, Pyroscope.UID} {
		found := false
		for _, l := range service.Links {
			found = found || strings.Contains(l.URL, "%22datasource%22%3A%22"+want+"%22")
		}
		if !found {
			t.Errorf("Service detail has no link to %s", want)
		}
	}
}

// Panels sit on the 24-column grid without overlapping.
func TestDashboards_Layout(t *testing.T) {
	for _, f := range readCommitted(t) {
		d := f.Dashboard
		type cell struct{ x, y int }
		taken := map[cell]string{}
		for _, p := range d.Panels {
			g := p.GridPos
			if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
				t.Errorf("%s / %s: grid position %+v outside the 24 columns", d.Title, p.Title, g)
			}
			for x := g.X; x < g.X+g.W; x++ {
				for y := g.Y; y < g.Y+g.H; y++ {
					if other, ok := taken[cell{x, y}]; ok {
						t.Errorf("%s: %q overlaps %q at column %d, row %d", d.Title, p.Title, other, x, y)
					}
					taken[cell{x, y}] = p.Title
				}
			}
		}
		for _, p := range d.AllPanels() {
			if len(p.Targets) == 0 {
				t.Errorf("%s / %s: no query", d.Title, p.Title)
			}
		}
	}
}

// Every recording rule the dashboards read is defined in deploy/prometheus/rules.
func TestDashboards_RecordingRulesExist(t *testing.T) {
	rules := map[string]bool{}
	files, err := filepath.Glob(filepath.Join("..", "deploy", "prometheus", "rules", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Groups []struct {
				Rules []struct {
					Record string `yaml:"record"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &file); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range file.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					rules[r.Record] = true
				}
			}
		}
	}
	used := regexp.MustCompile(`\b[a-z_]+:[a-z_]+:[a-z0-9_]+\b`)
	for _, f := range readCommitted(t) {
		for _, p := range f.Dashboard.AllPanels() {
			for _, tg := range p.Targets {
				for _, name := range used.FindAllString(tg.Expr, -1) {
					if !rules[name] {
						t.Errorf("%s / %s: reads recording rule %s, which no rule file defines", f.Dashboard.Title, p.Title, name)
					}
				}
			}
		}
		for _, v := range f.Dashboard.Templating.List {
			for _, name := range used.FindAllString(v.Query, -1) {
				if !rules[name] {
					t.Errorf("%s variable %s: reads recording rule %s, which no rule file defines", f.Dashboard.Title, v.Name, name)
				}
			}
		}
	}
}

// Every Prometheus query parses, with the variables replaced by sample values
// (promtool's PromQL parser; skipped when bin/promtool is not built).
func TestDashboards_QueriesParse(t *testing.T) {
	promtool, err := filepath.Abs(filepath.Join("..", "bin", "promtool"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(promtool); err != nil {
		t.Skipf("bin/promtool not built (make tools): %v", err)
	}
	type query struct{ where, expr string }
	var queries []query
	for _, f := range readCommitted(t) {
		d := f.Dashboard
		for _, v := range d.Templating.List {
			inner := v.Query
			if m := regexp.MustCompile(`^query_result\((.*)\)$`).FindStringSubmatch(inner); m != nil {
				inner = m[1]
			} else if m := regexp.MustCompile(`^label_values\((.*),\s*[a-z_]+\)$`).FindStringSubmatch(inner); m != nil {
				inner = m[1]
			} else {
				t.Errorf("%s variable %s: query %q is neither label_values(selector, label) nor query_result(expr)", d.Title, v.Name, v.Query)
				continue
			}
			queries = append(queries, query{d.Title + " variable " + v.Name, inner})
		}
		for _, p := range d.AllPanels() {
			for _, tg := range p.Targets {
				if tg.Datasource != nil && tg.Datasource.UID == Prometheus.UID {
					queries = append(queries, query{d.Title + " / " + p.Title + " " + tg.RefID, tg.Expr})
				}
			}
		}
	}
	sample := strings.NewReplacer("$__rate_interval", "4m", "$__range", "1h", "$__interval", "15s")
	vars := regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	errs := make([]string, len(queries))
	for i, q := range queries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			expr := vars.ReplaceAllString(sample.Replace(q.expr), "x")
			out, err := exec.Command(promtool, "promql", "format", "--experimental", expr).CombinedOutput()
			if err != nil {
				errs[i] = fmt.Sprintf("%s: does not parse: %s\n  %s", q.where, strings.TrimSpace(string(out)), q.expr)
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Error(e)
		}
	}
	t.Logf("%d queries parsed", len(queries))
}
