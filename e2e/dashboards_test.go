package e2e

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"

	"github.com/otelshop/shop/dashboards"
	"github.com/otelshop/shop/internal/shoptest"
)

// dashWindow is the time range every dashboard query is run over: it covers
// the load run and the minutes since. A panel shows data when any of its
// series has a point in it, as Grafana would draw it.
const (
	dashWindow = 15 * time.Minute
	dashStep   = 15 * time.Second
)

// TestDashboards_EveryPanelHasData runs every query of every provisioned
// dashboard against the live Prometheus, with the dashboard's template
// variables resolved by their own queries and expanded for each of their
// values, and fails naming the dashboard and panel of any query that returns
// nothing. The Jaeger dependency graph is asked of Jaeger; heatmaps that show
// exemplars must find some.
func TestDashboards_EveryPanelHasData(t *testing.T) {
	if platform.PrometheusURL == "" {
		t.Skip("no platform: TestMain did not start the stack")
	}
	files, err := dashboards.ReadDir(filepath.Join("..", "dashboards"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no dashboards in ../dashboards")
	}
	p := &promClient{base: platform.PrometheusURL, end: time.Now()}
	p.start = p.end.Add(-dashWindow)
	p.rateInterval = rateInterval(t)
	checkOneEnvironment(t, p)

	total, zeroOnly := 0, 0
	for _, f := range files {
		d := f.Dashboard
		t.Run(text(d.Uid), func(t *testing.T) {
			vars := resolveVariables(t, p, d.Templating.List)
			for _, panel := range dashboards.AllPanels(d) {
				exemplarsWanted, exemplarsFound := false, false
				for _, target := range panel.Targets {
					ds := dashboards.DatasourceOf(panel, target)
					if ds.UID == dashboards.Jaeger.UID {
						checkJaegerTarget(t, d, panel, target)
						total++
						continue
					}
					query, ok := target.(*prometheus.Dataquery)
					if ds.UID != dashboards.Prometheus.UID || !ok {
						t.Errorf("%s / %s: query on datasource %q, which this test cannot run", text(d.Title), text(panel.Title), ds.UID)
						continue
					}
					if !browsersRan() && strings.Contains(query.Expr, `"storefront"`) {
						continue // fed by the browser tests, skipped on this machine
					}
					for _, assignment := range vars.combinations(query.Expr) {
						expr, err := expand(query.Expr, assignment, vars.multi, p)
						if err != nil {
							t.Errorf("%s / %s: %v", text(d.Title), text(panel.Title), err)
							continue
						}
						total++
						n, zero, err := p.seriesWithData(expr)
						if err != nil {
							t.Errorf("%s / %s: query failed (%s): %v\n  %s", text(d.Title), text(panel.Title), assignment, err, expr)
							continue
						}
						if n == 0 {
							t.Errorf("%s / %s: no data (%s)\n  %s", text(d.Title), text(panel.Title), assignment, expr)
						}
						if zero {
							zeroOnly++
						}
						if isTrue(query.Exemplar) {
							exemplarsWanted = true
							if !exemplarsFound {
								exemplarsFound = p.hasExemplars(expr)
							}
						}
					}
				}
				if exemplarsWanted && !exemplarsFound {
					t.Errorf("%s / %s: shows exemplars, but Prometheus has none for any value of its variables", text(d.Title), text(panel.Title))
				}
			}
		})
	}
	t.Logf("%d dashboards, %d queries run; %d of them answered only their explicit zero "+
		"(an event this run did not cause, or a dependency the service does not have)", len(files), total, zeroOnly)
}

// checkOneEnvironment fails early, saying why, when the collector labels what
// it scrapes (the services' Go and process metrics, its own) with another
// deployment environment than the services' own telemetry: every dashboard
// filters on one $env, so half their panels would be empty. The collector's
// DEPLOYMENT_ENVIRONMENT must match the services' (compose sets both).
func checkOneEnvironment(t *testing.T, p *promClient) {
	t.Helper()
	services, err := p.variableValues(`label_values(target_info{service_namespace="shop"}, deployment_environment_name)`, "")
	if err != nil {
		t.Fatal(err)
	}
	collector, err := p.variableValues(`label_values(up{job="otelcol"}, deployment_environment_name)`, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(services, collector) {
		t.Fatalf("the services report deployment_environment_name %v, the collector labels its scrapes %v: "+
			"run the collector with DEPLOYMENT_ENVIRONMENT set to the services' environment", services, collector)
	}
}

// monitoredServices are the shop's services with server spans: the ones
// Jaeger's Monitor tab lists.
var monitoredServices = []string{"gateway", "users", "catalog", "cart", "inventory", "orders", "payments", "shipping"}

// TestJaegerMonitor_ReturnsLatenciesAndCallRates asks Jaeger's Service
// Performance Monitoring API, which reads the span metrics connector's series
// from Prometheus, for p95 latencies and call rates of every service.
func TestJaegerMonitor_ReturnsLatenciesAndCallRates(t *testing.T) {
	if platform.JaegerURL == "" {
		t.Skip("no platform: TestMain did not start the stack")
	}
	params := url.Values{}
	for _, s := range monitoredServices {
		params.Add("service", s)
	}
	params.Set("endTs", strconv.FormatInt(time.Now().UnixMilli(), 10))
	params.Set("lookback", strconv.FormatInt(dashWindow.Milliseconds(), 10))
	params.Set("step", "15000")
	params.Set("ratePer", "60000")
	for _, c := range []struct {
		endpoint string
		extra    url.Values
	}{
		{"latencies", url.Values{"quantile": {"0.95"}}},
		{"calls", nil},
	} {
		t.Run(c.endpoint, func(t *testing.T) {
			q := url.Values{}
			for k, v := range params {
				q[k] = v
			}
			for k, v := range c.extra {
				q[k] = v
			}
			var out struct {
				Name    string `json:"name"`
				Metrics []struct {
					Labels []struct {
						Name  string `json:"name"`
						Value string `json:"value"`
					} `json:"labels"`
					MetricPoints []struct {
						GaugeValue struct {
							DoubleValue any `json:"doubleValue"`
						} `json:"gaugeValue"`
					} `json:"metricPoints"`
				} `json:"metrics"`
			}
			u := platform.JaegerURL + "/api/metrics/" + c.endpoint + "?" + q.Encode()
			if err := shoptest.GetJSON(context.Background(), u, &out); err != nil {
				t.Fatal(err)
			}
			got := map[string]int{} // service → points with a positive value
			for _, m := range out.Metrics {
				svc := ""
				for _, l := range m.Labels {
					if l.Name == "service_name" {
						svc = l.Value
					}
				}
				for _, pt := range m.MetricPoints {
					if f, ok := pt.GaugeValue.DoubleValue.(float64); ok && f > 0 {
						got[svc]++
					}
				}
			}
			for _, s := range monitoredServices {
				if got[s] == 0 {
					t.Errorf("%s: no %s for service %s in the last %s (%s)", out.Name, c.endpoint, s, dashWindow, u)
				}
			}
			t.Logf("%s: points per service %v", out.Name, got)
		})
	}
}

// ---- variables

// varSet holds every combination of variable values, and which variables
// each variable's query depends on.
type varSet struct {
	names  []string            // in dashboard order
	deps   map[string][]string // variable → variables its query uses
	combos []assignment        // every combination of values
	multi  map[string]bool     // multi-value variables: values are regex-escaped
}

type assignment map[string]string

func (a assignment) String() string {
	if len(a) == 0 {
		return "no variables"
	}
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + a[k]
	}
	return strings.Join(parts, ", ")
}

// resolveVariables runs each variable's query, in order, with the values of
// the variables before it, and returns every combination.
func resolveVariables(t *testing.T, p *promClient, vars []dashboard.VariableModel) *varSet {
	t.Helper()
	vs := &varSet{deps: map[string][]string{}, combos: []assignment{{}}, multi: map[string]bool{}}
	for _, v := range vars {
		if v.Type != "query" {
			t.Fatalf("variable %s: type %q not supported by this test", v.Name, v.Type)
		}
		vs.names = append(vs.names, v.Name)
		vs.deps[v.Name] = dashboards.VariableRefs(dashboards.VariableQuery(v))
		vs.multi[v.Name] = isTrue(v.Multi) || isTrue(v.IncludeAll)
		var next []assignment
		for _, a := range vs.combos {
			query, err := expand(dashboards.VariableQuery(v), a, vs.multi, p)
			if err != nil {
				t.Fatalf("variable %s: %v", v.Name, err)
			}
			values, err := p.variableValues(query, text(v.Regex))
			if err != nil {
				t.Fatalf("variable %s (%s): %v", v.Name, a, err)
			}
			if len(values) == 0 {
				t.Errorf("variable %s has no values (%s): %s", v.Name, a, query)
				continue
			}
			if isTrue(v.IncludeAll) {
				values = append(values, "$__all")
			}
			for _, val := range values {
				b := assignment{}
				for k, x := range a {
					b[k] = x
				}
				b[v.Name] = val
				next = append(next, b)
			}
		}
		vs.combos = next
	}
	return vs
}

// combinations are the distinct assignments of the variables expr needs
// (directly or through the variables they depend on): a query that does not
// use $instance is not run once per instance.
func (vs *varSet) combinations(expr string) []assignment {
	need := map[string]bool{}
	var add func(string)
	add = func(name string) {
		if need[name] {
			return
		}
		need[name] = true
		for _, d := range vs.deps[name] {
			add(d)
		}
	}
	for _, n := range dashboards.VariableRefs(expr) {
		add(n)
	}
	seen := map[string]bool{}
	var out []assignment
	for _, c := range vs.combos {
		a := assignment{}
		for k, v := range c {
			if need[k] {
				a[k] = v
			}
		}
		if key := a.String(); !seen[key] {
			seen[key] = true
			out = append(out, a)
		}
	}
	return out
}

var varPattern = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// expand interpolates template variables as Grafana's Prometheus datasource
// does: single values as they are, multi-value ones regex-escaped, All as the
// variable's all value; $__rate_interval, $__range and $__interval from the
// test's time range.
func expand(expr string, a assignment, multi map[string]bool, p *promClient) (string, error) {
	var err error
	out := varPattern.ReplaceAllStringFunc(expr, func(m string) string {
		sub := varPattern.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		switch name {
		case "__rate_interval":
			return promDuration(p.rateInterval)
		case "__range":
			return promDuration(dashWindow)
		case "__interval":
			return promDuration(dashStep)
		}
		val, ok := a[name]
		if !ok {
			err = fmt.Errorf("variable $%s is not defined", name)
			return m
		}
		if val == "$__all" {
			return ".*"
		}
		if multi[name] {
			return grafanaRegexEscape(val)
		}
		return val
	})
	return out, err
}

// grafanaRegexEscape is what Grafana does to a multi-value variable's value
// inside a PromQL string: each regex metacharacter gets a backslash, written
// as two in the string literal.
func grafanaRegexEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\$^*{}[]'+?.()|`, r) {
			b.WriteString(`\\`)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func promDuration(d time.Duration) string { return strconv.Itoa(int(d.Seconds())) + "s" }

// rateInterval is what Grafana makes $__rate_interval for these range queries:
// max(4 × the datasource's scrape interval, step + scrape interval), with the
// scrape interval (timeInterval) read from the provisioned datasource.
func rateInterval(t *testing.T) time.Duration {
	t.Helper()
	sources, err := dashboards.ReadDatasources(filepath.Join("..", dashboards.DatasourcesFile))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(sources, func(ds dashboards.ProvisionedDatasource) bool { return ds.UID == dashboards.Prometheus.UID })
	if i < 0 {
		t.Fatal("datasources.yaml: no Prometheus datasource")
	}
	interval, _ := sources[i].JSONData["timeInterval"].(string)
	if interval == "" {
		t.Fatal("datasources.yaml: the Prometheus datasource sets no timeInterval")
	}
	scrape, err := time.ParseDuration(interval)
	if err != nil {
		t.Fatalf("datasources.yaml: timeInterval: %v", err)
	}
	return max(4*scrape, dashStep+scrape)
}

// ---- Prometheus

type promClient struct {
	base         string
	start, end   time.Time
	rateInterval time.Duration
}

// seriesWithData runs expr as Grafana draws a panel (a range query over the
// window) and counts the series with at least one point; zero reports that the
// answer is only the label-less 0 of an `or vector(0)`.
func (p *promClient) seriesWithData(expr string) (n int, zero bool, err error) {
	q := url.Values{
		"query": {expr},
		"start": {strconv.FormatInt(p.start.Unix(), 10)},
		"end":   {strconv.FormatInt(p.end.Unix(), 10)},
		"step":  {promDuration(dashStep)},
	}
	var out struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := shoptest.GetJSON(context.Background(), p.base+"/api/v1/query_range?"+q.Encode(), &out); err != nil {
		return 0, false, err
	}
	zero = len(out.Data.Result) == 1
	for _, r := range out.Data.Result {
		if len(r.Values) > 0 {
			n++
		}
		if len(r.Metric) > 0 {
			zero = false
		}
		for _, v := range r.Values {
			if fmt.Sprint(v[1]) != "0" {
				zero = false
			}
		}
	}
	return n, zero, nil
}

func (p *promClient) hasExemplars(expr string) bool {
	q := url.Values{
		"query": {expr},
		"start": {strconv.FormatInt(p.start.Unix(), 10)},
		"end":   {strconv.FormatInt(p.end.Unix(), 10)},
	}
	var out struct {
		Data []struct {
			Exemplars []any `json:"exemplars"`
		} `json:"data"`
	}
	if err := shoptest.GetJSON(context.Background(), p.base+"/api/v1/query_exemplars?"+q.Encode(), &out); err != nil {
		return false
	}
	for _, s := range out.Data {
		if len(s.Exemplars) > 0 {
			return true
		}
	}
	return false
}

var (
	labelValuesQuery = regexp.MustCompile(`^label_values\((?:(.*),\s*)?([A-Za-z_][A-Za-z0-9_]*)\)$`)
	queryResultQuery = regexp.MustCompile(`^query_result\((.*)\)$`)
)

// variableValues evaluates a Prometheus variable query the way Grafana does:
// label_values(selector, label) through the label values API, query_result(expr)
// as an instant query whose series print as `{label="value", ...} value timestamp`;
// then the variable's /regex/ keeps (the first group of) what matches.
func (p *promClient) variableValues(query, regex string) ([]string, error) {
	var raw []string
	switch {
	case labelValuesQuery.MatchString(query):
		m := labelValuesQuery.FindStringSubmatch(query)
		q := url.Values{
			"start": {strconv.FormatInt(p.start.Unix(), 10)},
			"end":   {strconv.FormatInt(p.end.Unix(), 10)},
		}
		if m[1] != "" {
			q.Set("match[]", m[1])
		}
		var out struct {
			Data []string `json:"data"`
		}
		if err := shoptest.GetJSON(context.Background(), p.base+"/api/v1/label/"+m[2]+"/values?"+q.Encode(), &out); err != nil {
			return nil, err
		}
		raw = out.Data
	case queryResultQuery.MatchString(query):
		expr := queryResultQuery.FindStringSubmatch(query)[1]
		q := url.Values{"query": {expr}, "time": {strconv.FormatInt(p.end.Unix(), 10)}}
		var out struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := shoptest.GetJSON(context.Background(), p.base+"/api/v1/query?"+q.Encode(), &out); err != nil {
			return nil, err
		}
		for _, r := range out.Data.Result {
			keys := make([]string, 0, len(r.Metric))
			for k := range r.Metric {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = fmt.Sprintf("%s=%q", k, r.Metric[k])
			}
			raw = append(raw, fmt.Sprintf("{%s} %v %v", strings.Join(parts, ","), r.Value[1], r.Value[0]))
		}
	default:
		return nil, fmt.Errorf("query %q is neither label_values(...) nor query_result(...)", query)
	}
	if regex == "" {
		return raw, nil
	}
	re, err := regexp.Compile(strings.TrimSuffix(strings.TrimPrefix(regex, "/"), "/"))
	if err != nil {
		return nil, fmt.Errorf("regex %s: %w", regex, err)
	}
	var values []string
	for _, r := range raw {
		m := re.FindStringSubmatch(r)
		switch {
		case m == nil:
		case len(m) > 1:
			values = append(values, m[1])
		default:
			values = append(values, r)
		}
	}
	slices.Sort(values)
	return slices.Compact(values), nil
}

// ---- Jaeger

// checkJaegerTarget asks Jaeger for what a Jaeger-datasource panel shows.
func checkJaegerTarget(t *testing.T, d dashboard.Dashboard, panel dashboard.Panel, target variants.Dataquery) {
	t.Helper()
	queryType := ""
	if q, ok := target.(*dashboards.JaegerQuery); ok {
		queryType = q.QueryType
	}
	switch queryType {
	case "dependencyGraph":
		u := fmt.Sprintf("%s/api/dependencies?endTs=%d&lookback=%d", platform.JaegerURL, time.Now().UnixMilli(), dashWindow.Milliseconds())
		var out struct {
			Data []struct {
				Parent    string `json:"parent"`
				Child     string `json:"child"`
				CallCount int    `json:"callCount"`
			} `json:"data"`
		}
		if err := shoptest.GetJSON(context.Background(), u, &out); err != nil {
			t.Errorf("%s / %s: %v", text(d.Title), text(panel.Title), err)
			return
		}
		edges := map[string]bool{}
		for _, e := range out.Data {
			edges[e.Parent+"→"+e.Child] = e.CallCount > 0
		}
		for _, want := range []string{"gateway→catalog", "gateway→orders", "orders→inventory", "orders→payments"} {
			if !edges[want] {
				t.Errorf("%s / %s: Jaeger's dependency graph has no %s edge (has %v)", text(d.Title), text(panel.Title), want, edges)
			}
		}
	default:
		t.Errorf("%s / %s: Jaeger query type %q not supported by this test", text(d.Title), text(panel.Title), queryType)
	}
}

// text and isTrue read the SDK's optional fields: absent is "" or false.
func text(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func isTrue(b *bool) bool { return b != nil && *b }
