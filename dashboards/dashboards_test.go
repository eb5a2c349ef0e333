package dashboards

import (
	"bytes"
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

	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"

	promrules "github.com/otelshop/shop/deploy/prometheus/rules"
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

// Every dashboard, as generated and as committed, decodes strictly into the
// SDK's dashboard type with every panel and query type registered (Decode),
// and encodes back to the same bytes: the SDK's types hold every field of the
// file, so nothing in it escapes the checks below or is lost on the way.
func TestDashboards_DecodeStrictlyIntoSDKTypes(t *testing.T) {
	generated, err := Render(All())
	if err != nil {
		t.Fatal(err)
	}
	committed := map[string][]byte{}
	for name := range generated {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		committed[name] = b
	}
	for set, files := range map[string]map[string][]byte{"generated": generated, "committed": committed} {
		for name, raw := range files {
			d, err := Decode(raw)
			if err != nil {
				t.Errorf("%s %s: %v", set, name, err)
				continue
			}
			again, err := Encode(d)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, raw) {
				t.Errorf("%s %s: decoding and encoding again changes the file: a field the SDK's types do not hold", set, name)
			}
		}
	}
}

// Decode refuses an unknown field wherever it is: the strict check covers
// the dashboard, its variables, links and annotations, rows, panels, their
// grid positions, options, field config (defaults, custom, thresholds, data
// links) and queries, Prometheus and Jaeger.
func TestDecode_UnknownFieldAnywhere_IsRefused(t *testing.T) {
	panelOfType := func(d map[string]any, typ string) map[string]any {
		for _, p := range d["panels"].([]any) {
			if p := p.(map[string]any); p["type"] == typ {
				return p
			}
		}
		t.Fatalf("no %s panel", typ)
		return nil
	}
	at := func(v any, path ...any) map[string]any {
		for _, step := range path {
			switch step := step.(type) {
			case string:
				v = v.(map[string]any)[step]
			case int:
				v = v.([]any)[step]
			}
		}
		return v.(map[string]any)
	}
	cases := []struct {
		name, file string
		object     func(d map[string]any) map[string]any
	}{
		{"dashboard", "shop-overview.json", func(d map[string]any) map[string]any { return d }},
		{"time range", "shop-overview.json", func(d map[string]any) map[string]any { return at(d, "time") }},
		{"variable", "shop-service.json", func(d map[string]any) map[string]any { return at(d, "templating", "list", 1) }},
		{"dashboard link", "shop-service.json", func(d map[string]any) map[string]any { return at(d, "links", 1) }},
		{"annotation", "shop-overview.json", func(d map[string]any) map[string]any { return at(d, "annotations", "list", 0) }},
		{"row", "shop-overview.json", func(d map[string]any) map[string]any { return panelOfType(d, "row") }},
		{"panel", "shop-overview.json", func(d map[string]any) map[string]any { return panelOfType(d, "stat") }},
		{"grid position", "shop-overview.json", func(d map[string]any) map[string]any { return at(panelOfType(d, "stat"), "gridPos") }},
		{"stat options", "shop-overview.json", func(d map[string]any) map[string]any { return at(panelOfType(d, "stat"), "options") }},
		{"stat reduce options", "shop-overview.json", func(d map[string]any) map[string]any { return at(panelOfType(d, "stat"), "options", "reduceOptions") }},
		{"field config defaults", "shop-overview.json", func(d map[string]any) map[string]any { return at(panelOfType(d, "stat"), "fieldConfig", "defaults") }},
		{"threshold step", "shop-overview.json", func(d map[string]any) map[string]any {
			return at(panelOfType(d, "stat"), "fieldConfig", "defaults", "thresholds", "steps", 0)
		}},
		{"timeseries custom field config", "shop-overview.json", func(d map[string]any) map[string]any {
			return at(panelOfType(d, "timeseries"), "fieldConfig", "defaults", "custom")
		}},
		{"timeseries legend", "shop-overview.json", func(d map[string]any) map[string]any { return at(panelOfType(d, "timeseries"), "options", "legend") }},
		{"data link", "shop-overview.json", func(d map[string]any) map[string]any {
			return at(panelOfType(d, "table"), "fieldConfig", "defaults", "links", 0)
		}},
		{"table options", "shop-overview.json", func(d map[string]any) map[string]any { return at(panelOfType(d, "table"), "options") }},
		{"heatmap options", "shop-service.json", func(d map[string]any) map[string]any { return at(panelOfType(d, "heatmap"), "options", "yAxis") }},
		{"node graph options", "shop-overview.json", func(d map[string]any) map[string]any { return at(panelOfType(d, "nodeGraph"), "options") }},
		{"Prometheus query", "shop-overview.json", func(d map[string]any) map[string]any { return at(panelOfType(d, "stat"), "targets", 0) }},
		{"Jaeger query", "shop-overview.json", func(d map[string]any) map[string]any { return at(panelOfType(d, "nodeGraph"), "targets", 0) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, err := os.ReadFile(c.file)
			if err != nil {
				t.Fatal(err)
			}
			var d map[string]any
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			c.object(d)["notAGrafanaField"] = true
			edited, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Decode(edited); err == nil || !strings.Contains(err.Error(), "notAGrafanaField") {
				t.Errorf("an unknown field in the %s of %s: Decode returned %v, want an error naming it", c.name, c.file, err)
			}
		})
	}
}

// Encode writes <, > and & as they are, where encoding/json would escape
// them, and keeps every other escape, a literal backslash included.
func TestEncode_WritesHTMLCharactersAsTheyAre(t *testing.T) {
	title := `rate > 0 && a<b, a literal \u0026, a "quote"`
	d := dashboard.Dashboard{Uid: &title}
	b, err := Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"uid": "rate > 0 && a<b, a literal \\u0026, a \"quote\""`; !strings.Contains(string(b), want) {
		t.Errorf("Encode wrote %s, want it to contain %s", b, want)
	}
	var back dashboard.Dashboard
	if err := json.Unmarshal(b, &back); err != nil || deref(back.Uid) != title {
		t.Errorf("decoded again: %q (%v), want %q", deref(back.Uid), err, title)
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
	for _, f := range files {
		// Every check below walks the panels: none must pass for want of any.
		if len(AllPanels(f.Dashboard)) == 0 {
			t.Fatalf("%s: no panels decoded", f.Path)
		}
	}
	return files
}

// Every reference between the provisioned datasources points at one that exists.
func TestDatasources_LinksPointAtProvisionedUIDs(t *testing.T) {
	types, linked := provisioned(t)
	for _, want := range []Datasource{Prometheus, Jaeger, Loki, Pyroscope} {
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
		uid, title := deref(f.Dashboard.Uid), deref(f.Dashboard.Title)
		if uid == "" || len(uid) > 40 {
			t.Errorf("%s: uid %q must be 1 to 40 characters", f.Path, uid)
		}
		if prev, dup := uids[uid]; dup {
			t.Errorf("%s and %s share uid %q", prev, f.Path, uid)
		}
		if prev, dup := titles[title]; dup {
			t.Errorf("%s and %s share title %q", prev, f.Path, title)
		}
		uids[uid], titles[title] = f.Path, f.Path
		if filepath.Base(f.Path) != uid+".json" {
			t.Errorf("%s: file name should be its uid, %s.json", f.Path, uid)
		}
		ids := map[uint32]bool{}
		for _, p := range grid(f.Dashboard) {
			if ids[p.ID] {
				t.Errorf("%s: panel id %d used twice", title, p.ID)
			}
			ids[p.ID] = true
		}
	}
}

// gridItem is a row or a panel at the top level of a dashboard's grid.
type gridItem struct {
	ID      uint32
	Title   string
	GridPos dashboard.GridPos
}

func grid(d dashboard.Dashboard) []gridItem {
	var items []gridItem
	for _, p := range d.Panels {
		switch {
		case p.Panel != nil:
			items = append(items, gridItem{deref(p.Panel.Id), deref(p.Panel.Title), deref(p.Panel.GridPos)})
		case p.RowPanel != nil:
			items = append(items, gridItem{p.RowPanel.Id, deref(p.RowPanel.Title), deref(p.RowPanel.GridPos)})
		}
	}
	return items
}

// expr is a query's PromQL ("" for another datasource's query).
func expr(q variants.Dataquery) string {
	if q, ok := q.(*prometheus.Dataquery); ok {
		return q.Expr
	}
	return ""
}

// Every datasource a dashboard names is provisioned, by uid and with its type,
// and no dashboard names a datasource by name.
func TestDashboards_DatasourcesAreProvisioned(t *testing.T) {
	types, _ := provisioned(t)
	check := func(where string, ds *Datasource) {
		if ds == nil {
			t.Errorf("%s: no datasource (Grafana would use the default; name it)", where)
			return
		}
		if got, ok := types[ds.UID]; !ok || got != ds.Type {
			t.Errorf("%s: datasource %+v is not provisioned (provisioned: %v)", where, *ds, types)
		}
	}
	for _, f := range readCommitted(t) {
		d, title := f.Dashboard, deref(f.Dashboard.Title)
		for _, v := range d.Templating.List {
			check(title+" variable "+v.Name, datasourceOf(v.Datasource))
		}
		for _, a := range d.Annotations.List {
			if a.Target != nil {
				check(title+" annotation "+a.Name, datasourceOf(a.Datasource))
				_, ds := queryRef(a.Target)
				check(title+" annotation "+a.Name+" query", ds)
			}
		}
		for _, p := range AllPanels(d) {
			check(title+" / "+deref(p.Title), datasourceOf(p.Datasource))
			for _, tg := range p.Targets {
				refID, ds := queryRef(tg) // the query's own: Grafana runs a query without one on the panel's
				check(title+" / "+deref(p.Title)+" query "+refID, ds)
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
		d, title := f.Dashboard, deref(f.Dashboard.Title)
		defined := map[string]bool{}
		for _, v := range d.Templating.List {
			for _, ref := range VariableRefs(VariableQuery(v)) {
				if !defined[ref] {
					t.Errorf("%s: variable %s uses $%s, defined after it or not at all", title, v.Name, ref)
				}
			}
			if defined[v.Name] {
				t.Errorf("%s: variable %s defined twice", title, v.Name)
			}
			defined[v.Name] = true
		}
		use := func(where, s string) {
			for _, ref := range VariableRefs(s) {
				if !defined[ref] {
					t.Errorf("%s / %s: uses $%s, which the dashboard does not define", title, where, ref)
				}
			}
		}
		for _, l := range d.Links {
			use("link "+l.Title, l.Title+" "+deref(l.Url))
		}
		for _, a := range d.Annotations.List {
			use("annotation "+a.Name, expr(a.Target)+" "+deref(a.TitleFormat)+" "+deref(a.TextFormat))
		}
		for _, p := range grid(d) {
			use("row or panel title", p.Title)
		}
		for _, p := range AllPanels(d) {
			pt := deref(p.Title)
			use(pt, pt)
			for _, tg := range p.Targets {
				use(pt, expr(tg))
			}
			for _, l := range panelLinks(p) {
				use(pt+" link", deref(l.Url))
			}
		}
	}
}

func panelLinks(p dashboard.Panel) []dashboard.DashboardLink {
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
		uids[deref(f.Dashboard.Uid)] = true
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
		case strings.HasPrefix(raw, RunbookBase):
			// A runbook as GitHub shows it: the file must be in this repository.
			page := filepath.Join("..", "docs", "runbooks", filepath.FromSlash(strings.TrimPrefix(raw, RunbookBase)))
			if _, err := os.Stat(page); err != nil {
				t.Errorf("%s: links to runbook %s: %v", where, raw, err)
			}
		case strings.HasPrefix(u.Path, "/d/"):
			uid, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/d/"), "/")
			if !uids[uid] {
				t.Errorf("%s: links to dashboard %q, which is not provisioned", where, uid)
			}
		case u.Path == "/explore":
			var panes map[string]struct {
				Datasource string `json:"datasource"`
				Queries    []struct {
					Datasource common.DataSourceRef `json:"datasource"`
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
					if ds := datasourceOf(&q.Datasource); types[ds.UID] != ds.Type {
						t.Errorf("%s: explore query on %+v, not provisioned", where, *ds)
					}
				}
			}
		default:
			t.Errorf("%s: link %q leads neither to a dashboard nor to Explore", where, raw)
		}
	}
	for _, f := range files {
		d, title := f.Dashboard, deref(f.Dashboard.Title)
		for _, l := range d.Links {
			switch l.Type {
			case dashboard.DashboardLinkTypeDashboards:
				for _, tag := range l.Tags {
					if !tags[tag] {
						t.Errorf("%s: link %q lists dashboards tagged %q: there are none", title, l.Title, tag)
					}
				}
			case dashboard.DashboardLinkTypeLink:
				checkURL(title+" link "+l.Title, deref(l.Url))
			default:
				t.Errorf("%s: link %q of type %q", title, l.Title, l.Type)
			}
		}
		for _, p := range AllPanels(d) {
			for _, l := range panelLinks(p) {
				checkURL(title+" / "+deref(p.Title), deref(l.Url))
			}
		}
	}
	// The service dashboard links to the service's traces, logs and flame graph.
	service, err := Service().Build()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{Jaeger.UID, Loki.UID, Pyroscope.UID} {
		found := false
		for _, l := range service.Links {
			found = found || strings.Contains(deref(l.Url), "%22datasource%22%3A%22"+want+"%22")
		}
		if !found {
			t.Errorf("Service detail has no link to %s", want)
		}
	}
}

// Panels sit on the 24-column grid without overlapping.
func TestDashboards_Layout(t *testing.T) {
	for _, f := range readCommitted(t) {
		d, title := f.Dashboard, deref(f.Dashboard.Title)
		type cell struct{ x, y uint32 }
		taken := map[cell]string{}
		for _, p := range grid(d) {
			g := p.GridPos
			if g.W == 0 || g.H == 0 || g.X+g.W > 24 {
				t.Errorf("%s / %s: grid position %+v outside the 24 columns", title, p.Title, g)
			}
			for x := g.X; x < g.X+g.W; x++ {
				for y := g.Y; y < g.Y+g.H; y++ {
					if other, ok := taken[cell{x, y}]; ok {
						t.Errorf("%s: %q overlaps %q at column %d, row %d", title, p.Title, other, x, y)
					}
					taken[cell{x, y}] = p.Title
				}
			}
		}
		for _, p := range AllPanels(d) {
			if len(p.Targets) == 0 {
				t.Errorf("%s / %s: no query", title, deref(p.Title))
			}
		}
	}
}

// Every recording rule the dashboards read is defined in deploy/prometheus/rules.
func TestDashboards_RecordingRulesExist(t *testing.T) {
	rules := map[string]bool{}
	all, err := promrules.Load(filepath.Join("..", "deploy", "prometheus", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.Record != "" {
			rules[r.Record] = true
		}
	}
	used := regexp.MustCompile(`\b[a-z_]+:[a-z_]+:[a-z0-9_]+\b`)
	for _, f := range readCommitted(t) {
		title := deref(f.Dashboard.Title)
		for _, p := range AllPanels(f.Dashboard) {
			for _, tg := range p.Targets {
				for _, name := range used.FindAllString(expr(tg), -1) {
					if !rules[name] {
						t.Errorf("%s / %s: reads recording rule %s, which no rule file defines", title, deref(p.Title), name)
					}
				}
			}
		}
		for _, v := range f.Dashboard.Templating.List {
			for _, name := range used.FindAllString(VariableQuery(v), -1) {
				if !rules[name] {
					t.Errorf("%s variable %s: reads recording rule %s, which no rule file defines", title, v.Name, name)
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
		d, title := f.Dashboard, deref(f.Dashboard.Title)
		for _, v := range d.Templating.List {
			inner := VariableQuery(v)
			if m := regexp.MustCompile(`^query_result\((.*)\)$`).FindStringSubmatch(inner); m != nil {
				inner = m[1]
			} else if m := regexp.MustCompile(`^label_values\((.*),\s*[a-z_]+\)$`).FindStringSubmatch(inner); m != nil {
				inner = m[1]
			} else {
				t.Errorf("%s variable %s: query %q is neither label_values(selector, label) nor query_result(expr)", title, v.Name, VariableQuery(v))
				continue
			}
			queries = append(queries, query{title + " variable " + v.Name, inner})
		}
		for _, p := range AllPanels(d) {
			for _, tg := range p.Targets {
				if refID, ds := queryRef(tg); ds != nil && ds.UID == Prometheus.UID {
					queries = append(queries, query{title + " / " + deref(p.Title) + " " + refID, expr(tg)})
				}
			}
		}
		for _, a := range d.Annotations.List {
			if e := expr(a.Target); e != "" {
				queries = append(queries, query{title + " annotation " + a.Name, e})
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
