package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/otelshop/shop/internal/composefile"
	"github.com/otelshop/shop/internal/shoptest"
	"github.com/otelshop/shop/internal/standin"
)

// The Jaeger UI's links (compose.yaml's jaeger-ui config) are built here for real
// spans and traces of the run, the way Jaeger UI 1.63 builds them, and the Grafana
// queries they encode are run against what the platform stored: the span's link
// selects that span's CPU samples in the profiles the services uploaded, and the
// trace's link selects that trace's log records among those the collector exported.
func TestJaegerUILinks_SpanToItsProfileAndTraceToItsLogs(t *testing.T) {
	patterns := jaegerLinkPatterns(t)
	datasources := provisionedDatasources(t)

	t.Run("span to its CPU profile", func(t *testing.T) {
		pattern := onePattern(t, patterns, "tags", "pyroscope.profile.id")
		trace, span := profiledSpan(t)
		link, ok := expandLink(pattern.URL, func(name string) (string, bool) {
			if field, ok := strings.CutPrefix(name, "trace."); ok {
				return trace.field(field)
			}
			return span.lookup(trace, name)
		})
		if !ok {
			t.Fatalf("Jaeger UI would not show the link: a parameter of %q has no value on span %s", pattern.URL, span.SpanID)
		}
		q := explorePane(t, link, datasources, "grafana-pyroscope-datasource")
		if q.QueryType != "profile" || q.ProfileTypeID != "process_cpu:cpu:nanoseconds:cpu:nanoseconds" {
			t.Errorf("query %+v: want a CPU profile query", q)
		}
		if !slices.Equal(q.SpanSelector, []string{span.SpanID}) {
			t.Fatalf("spanSelector %v, want [%s]", q.SpanSelector, span.SpanID)
		}
		selector := parseSelector(t, q.LabelSelector)
		got := cpuSamples(selector, q.SpanSelector)
		want := cpuSamples(nil, q.SpanSelector)
		if got == 0 || got != want {
			t.Errorf("the link's query selects %d ns of CPU samples of span %s, which has %d ns in the uploads", got, span.SpanID, want)
		}
		elsewhere := copyMatchers(selector)
		elsewhere["deployment_environment_name"] = "elsewhere"
		if n := cpuSamples(elsewhere, q.SpanSelector); n != 0 {
			t.Errorf("the selector does not filter: another environment still selects %d ns", n)
		}
		t.Logf("span %s (%s): %s selects %d ns of CPU samples", span.SpanID, span.OperationName, q.LabelSelector, got)
	})

	t.Run("exemplar to its span's CPU profile", func(t *testing.T) {
		dest := exemplarDestination(t, "span_id")
		cpu := spanCPU()
		var spanID string
		for _, e := range exemplarsOf(t, `http_server_request_duration_seconds_bucket`) {
			if id := e["span_id"]; cpu[id] > 0 {
				spanID = id
				break
			}
		}
		if spanID == "" {
			t.Fatal("no exemplar of http_server_request_duration_seconds names a span with CPU samples")
		}
		// Grafana fills ${__value.raw} with the exemplar's span_id and resolves the
		// URL against its own address.
		link := "http://127.0.0.1:3000" + strings.ReplaceAll(dest, "${__value.raw}", spanID)
		q := explorePane(t, link, datasources, "grafana-pyroscope-datasource")
		if !slices.Equal(q.SpanSelector, []string{spanID}) || q.ProfileTypeID != "process_cpu:cpu:nanoseconds:cpu:nanoseconds" {
			t.Fatalf("query %+v: want the CPU profile of span %s", q, spanID)
		}
		got := cpuSamples(parseSelector(t, q.LabelSelector), q.SpanSelector)
		if want := cpuSamples(nil, q.SpanSelector); got == 0 || got != want {
			t.Errorf("the exemplar link's query selects %d ns of CPU samples of span %s, which has %d ns", got, spanID, want)
		}
	})

	t.Run("trace to its logs", func(t *testing.T) {
		pattern := onePattern(t, patterns, "traces", "")
		records := exportedLogs(t)
		traceID := loggedTraceJaegerKnows(t, records)
		trace := jaegerTraceWithTags(t, traceID)
		link, ok := expandLink(pattern.URL, trace.field)
		if !ok {
			t.Fatalf("Jaeger UI would not show the link: a parameter of %q has no value for trace %s", pattern.URL, traceID)
		}
		q := explorePane(t, link, datasources, "loki")
		logQL := parseLogQL(t, q.Expr)
		selected, ofTrace := 0, 0
		for _, r := range records {
			if r.Metadata["trace_id"] == traceID {
				ofTrace++
			}
			if logQL.matches(r) {
				selected++
			}
		}
		if selected == 0 || selected != ofTrace {
			t.Errorf("the link's query %s selects %d log records; the trace has %d", q.Expr, selected, ofTrace)
		}
		t.Logf("trace %s: %s selects its %d log records", traceID, q.Expr, selected)
	})
}

type linkPattern struct {
	Type string `json:"type"`
	Key  string `json:"key"`
	URL  string `json:"url"`
	Text string `json:"text"`
}

// jaegerLinkPatterns reads the link patterns compose mounts into Jaeger, with
// GRAFANA_URL at its default.
func jaegerLinkPatterns(t *testing.T) []linkPattern {
	t.Helper()
	project, err := composefile.Load(context.Background(), filepath.Join("..", "compose.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, ok := project.Configs["jaeger-ui"]
	if !ok {
		t.Fatal("compose.yaml has no jaeger-ui config")
	}
	var ui struct {
		LinkPatterns []linkPattern `json:"linkPatterns"`
	}
	dec := json.NewDecoder(strings.NewReader(cfg.Content))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ui); err != nil {
		t.Fatalf("the jaeger-ui config is not Jaeger UI's JSON: %v", err)
	}
	return ui.LinkPatterns
}

func onePattern(t *testing.T, patterns []linkPattern, typ, key string) linkPattern {
	t.Helper()
	for _, p := range patterns {
		if p.Type == typ && p.Key == key {
			return p
		}
	}
	t.Fatalf("no %s link pattern on %q among %d", typ, key, len(patterns))
	return linkPattern{}
}

var linkParameter = regexp.MustCompile(`#\{([^{}]*)\}`)

// expandLink fills a link template as Jaeger UI does (stringSupplant): each
// #{name} is replaced by its value, URI-component encoded; a missing value means
// no link at all.
func expandLink(template string, lookup func(string) (string, bool)) (string, bool) {
	ok := true
	out := linkParameter.ReplaceAllStringFunc(template, func(m string) string {
		v, found := lookup(m[2 : len(m)-1])
		if !found {
			ok = false
		}
		return encodeURIComponent(v)
	})
	return out, ok
}

// encodeURIComponent is JavaScript's: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( )
// is percent-encoded as UTF-8.
func encodeURIComponent(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// explorePane decodes a Grafana Explore URL with one pane and one query, and
// checks that it names a provisioned data source of the wanted type.
func explorePane(t *testing.T, link string, datasources map[string]string, wantType string) exploreQuery {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("link %q: %v", link, err)
	}
	if u.Scheme+"://"+u.Host != "http://127.0.0.1:3000" || u.Path != "/explore" {
		t.Errorf("link %s does not open Grafana's Explore at http://127.0.0.1:3000 (where compose publishes it)", link)
	}
	var panes map[string]struct {
		Datasource string         `json:"datasource"`
		Queries    []exploreQuery `json:"queries"`
		Range      struct{ From, To string }
	}
	if err := json.Unmarshal([]byte(u.Query().Get("panes")), &panes); err != nil {
		t.Fatalf("link %s: panes is not JSON: %v", link, err)
	}
	if len(panes) != 1 {
		t.Fatalf("link %s opens %d panes, want 1", link, len(panes))
	}
	for _, pane := range panes {
		if len(pane.Queries) != 1 {
			t.Fatalf("link %s has %d queries, want 1", link, len(pane.Queries))
		}
		q := pane.Queries[0]
		if typ, ok := datasources[pane.Datasource]; !ok || typ != wantType || q.Datasource.UID != pane.Datasource || q.Datasource.Type != wantType {
			t.Errorf("link %s: data source %q (query's %+v) is not the provisioned %s data source", link, pane.Datasource, q.Datasource, wantType)
		}
		if pane.Range.From == "" || pane.Range.To == "" {
			t.Errorf("link %s has no time range", link)
		}
		return q
	}
	panic("unreachable")
}

type exploreQuery struct {
	RefID      string `json:"refId"`
	Datasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	QueryType     string   `json:"queryType"`
	ProfileTypeID string   `json:"profileTypeId"`
	LabelSelector string   `json:"labelSelector"`
	GroupBy       []string `json:"groupBy"`
	SpanSelector  []string `json:"spanSelector"`
	Expr          string   `json:"expr"`
}

// exemplarDestination returns the URL of the Prometheus data source's exemplar
// link on the named label, as Grafana sees it after expanding $$ to $.
func exemplarDestination(t *testing.T, label string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "provisioning", "datasources", "datasources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Datasources []struct {
			Type     string `yaml:"type"`
			JSONData struct {
				Destinations []struct{ Name, URL string } `yaml:"exemplarTraceIdDestinations"`
			} `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	for _, d := range file.Datasources {
		for _, dest := range d.JSONData.Destinations {
			if d.Type == "prometheus" && dest.Name == label && dest.URL != "" {
				return strings.ReplaceAll(dest.URL, "$$", "$")
			}
		}
	}
	t.Fatalf("the Prometheus data source has no exemplar link on %s", label)
	return ""
}

// exemplarsOf returns the labels of the exemplars Prometheus holds for a series
// over the last hour.
func exemplarsOf(t *testing.T, metric string) []map[string]string {
	t.Helper()
	var out struct {
		Data []struct {
			Exemplars []struct {
				Labels map[string]string `json:"labels"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	end := time.Now()
	u := fmt.Sprintf("%s/api/v1/query_exemplars?query=%s&start=%d&end=%d", platform.PrometheusURL,
		url.QueryEscape(metric), end.Add(-time.Hour).Unix(), end.Unix())
	if err := shoptest.GetJSON(context.Background(), u, &out); err != nil {
		t.Fatalf("exemplars of %s: %v", metric, err)
	}
	var labels []map[string]string
	for _, series := range out.Data {
		for _, e := range series.Exemplars {
			labels = append(labels, e.Labels)
		}
	}
	return labels
}

// provisionedDatasources maps each provisioned Grafana data source's uid to its type.
func provisionedDatasources(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "provisioning", "datasources", "datasources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Datasources []struct{ UID, Type string } `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range file.Datasources {
		out[d.UID] = d.Type
	}
	return out
}

// matcherList is a selector of label="value" equality matchers.
type matcherList map[string]string

var selectorMatcher = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"\\]*)"\s*$`)

// parseSelector reads {a="x", b="y"}; anything else fails the test, so a link
// cannot drift into a form this test does not evaluate.
func parseSelector(t *testing.T, s string) matcherList {
	t.Helper()
	inner, ok := strings.CutPrefix(strings.TrimSpace(s), "{")
	inner, ok2 := strings.CutSuffix(inner, "}")
	if !ok || !ok2 {
		t.Fatalf("selector %q is not {label=\"value\", ...}", s)
	}
	out := matcherList{}
	for _, part := range strings.Split(inner, ",") {
		m := selectorMatcher.FindStringSubmatch(part)
		if m == nil {
			t.Fatalf("selector %q: %q is not label=\"value\"", s, part)
		}
		out[m[1]] = m[2]
	}
	return out
}

func (m matcherList) matches(labels map[string]string) bool {
	for k, v := range m {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func copyMatchers(m matcherList) matcherList {
	out := matcherList{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// cpuSamples sums the CPU time of samples labelled with one of spans in the
// uploaded CPU profiles whose series labels match selector (every profile when
// selector is nil), as Pyroscope's SelectMergeSpanProfile would.
func cpuSamples(selector matcherList, spans []string) int64 {
	var total int64
	for _, u := range platform.Pyroscope.Uploads() {
		if u.Type != "cpu" || (selector != nil && !selector.matches(u.Labels)) {
			continue
		}
		cpu := len(u.Profile.SampleType) - 1
		for _, s := range u.Profile.Sample {
			for _, id := range s.Label["span_id"] {
				if slices.Contains(spans, id) {
					total += s.Value[cpu]
				}
			}
		}
	}
	return total
}

// spanWithTags is a span of Jaeger's answer with its tags and its process.
type spanWithTags struct {
	SpanID        string    `json:"spanID"`
	OperationName string    `json:"operationName"`
	ProcessID     string    `json:"processID"`
	Tags          []kvTag   `json:"tags"`
	Process       []kvTag   `json:"-"`
	References    []spanRef `json:"references"`
}

type kvTag struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

type spanRef struct {
	SpanID string `json:"spanID"`
}

type traceWithTags struct {
	TraceID   string         `json:"traceID"`
	Spans     []spanWithTags `json:"spans"`
	Processes map[string]struct {
		ServiceName string  `json:"serviceName"`
		Tags        []kvTag `json:"tags"`
	} `json:"processes"`
}

// lookup resolves a link parameter as Jaeger UI does for a tags link: the span's
// tags, then its process's tags, then each ancestor's.
func (s spanWithTags) lookup(tr traceWithTags, name string) (string, bool) {
	for span := &s; span != nil; span = tr.parent(*span) {
		for _, tags := range [][]kvTag{span.Tags, tr.Processes[span.ProcessID].Tags} {
			for _, tag := range tags {
				if tag.Key == name {
					return fmt.Sprint(tag.Value), true
				}
			}
		}
	}
	return "", false
}

func (tr traceWithTags) parent(s spanWithTags) *spanWithTags {
	for _, ref := range s.References {
		for i := range tr.Spans {
			if tr.Spans[i].SpanID == ref.SpanID {
				return &tr.Spans[i]
			}
		}
	}
	return nil
}

// field is a trace field a link may name; Jaeger UI computes these from the spans.
func (tr traceWithTags) field(name string) (string, bool) {
	switch name {
	case "traceID":
		return tr.TraceID, true
	}
	return "", false
}

func jaegerTraceWithTags(t *testing.T, traceID string) traceWithTags {
	t.Helper()
	var out struct{ Data []traceWithTags }
	if err := shoptest.GetJSON(context.Background(), platform.JaegerURL+"/api/traces/"+traceID, &out); err != nil || len(out.Data) != 1 {
		t.Fatalf("trace %s from Jaeger: %v (%d traces)", traceID, err, len(out.Data))
	}
	return out.Data[0]
}

// spanCPU sums the CPU time of the uploaded samples by the span id they carry.
func spanCPU() map[string]int64 {
	out := map[string]int64{}
	for _, u := range platform.Pyroscope.Uploads() {
		if u.Type != "cpu" {
			continue
		}
		last := len(u.Profile.SampleType) - 1
		for _, s := range u.Profile.Sample {
			for _, id := range s.Label["span_id"] {
				out[id] += s.Value[last]
			}
		}
	}
	return out
}

// profiledSpan finds a span Jaeger stored whose pyroscope.profile.id has CPU
// samples in the uploaded profiles (otel-profiling-go labels the samples taken
// while a process's local root span runs with that span's id).
func profiledSpan(t *testing.T) (traceWithTags, spanWithTags) {
	t.Helper()
	cpu := spanCPU()
	for _, service := range serviceNames() {
		var out struct{ Data []traceWithTags }
		if err := shoptest.GetJSON(context.Background(), platform.JaegerURL+"/api/traces?service="+service+"&limit=200&lookback=1h", &out); err != nil {
			t.Fatalf("traces of %s: %v", service, err)
		}
		for _, tr := range out.Data {
			for _, s := range tr.Spans {
				if v, ok := s.lookup(tr, "pyroscope.profile.id"); ok && v == s.SpanID && cpu[v] > 0 {
					return tr, s
				}
			}
		}
	}
	t.Fatalf("none of the %d spans with CPU samples is among the traces Jaeger returns with its pyroscope.profile.id", len(cpu))
	return traceWithTags{}, spanWithTags{}
}

// exportedLogs reads the log records the collector wrote, as Loki's stand-in
// holds them: labelled by resource attribute, trace_id in structured metadata.
func exportedLogs(t *testing.T) []standin.Record {
	t.Helper()
	records, err := (&standin.Logs{File: platform.LogsFile}).Records()
	if err != nil {
		t.Fatal(err)
	}
	return records
}

// loggedTraceJaegerKnows picks the trace with the most exported log records among
// those Jaeger has.
func loggedTraceJaegerKnows(t *testing.T, records []standin.Record) string {
	t.Helper()
	count := map[string]int{}
	for _, r := range records {
		if id := r.Metadata["trace_id"]; id != "" {
			count[id]++
		}
	}
	ids := make([]string, 0, len(count))
	for id := range count {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return count[b] - count[a] })
	for _, id := range ids[:min(len(ids), 20)] {
		var out struct{ Data []traceWithTags }
		if shoptest.GetJSON(context.Background(), platform.JaegerURL+"/api/traces/"+id, &out) == nil && len(out.Data) == 1 {
			return id
		}
	}
	t.Fatalf("Jaeger knows none of the %d traces the exported logs name", len(ids))
	return ""
}

// logQL is the subset of LogQL the links use: a stream selector of equality
// matchers, then label filters `| label="value"` on structured metadata.
type logQL struct {
	stream  matcherList
	filters matcherList
}

var logQLFilter = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"\\]*)"\s*$`)

func parseLogQL(t *testing.T, expr string) logQL {
	t.Helper()
	end := strings.IndexByte(expr, '}')
	if end < 0 {
		t.Fatalf("LogQL %q has no stream selector", expr)
	}
	q := logQL{stream: parseSelector(t, expr[:end+1]), filters: matcherList{}}
	rest := strings.TrimSpace(expr[end+1:])
	for rest != "" {
		filter, ok := strings.CutPrefix(rest, "|")
		if !ok {
			t.Fatalf("LogQL %q: %q is not a label filter", expr, rest)
		}
		next := strings.IndexByte(filter, '|')
		if next < 0 {
			next = len(filter)
		}
		m := logQLFilter.FindStringSubmatch(filter[:next])
		if m == nil {
			t.Fatalf("LogQL %q: %q is not label=\"value\"", expr, filter[:next])
		}
		q.filters[m[1]] = m[2]
		rest = strings.TrimSpace(filter[next:])
	}
	return q
}

func (q logQL) matches(r standin.Record) bool {
	if !q.stream.matches(r.Labels) {
		return false
	}
	for k, v := range q.filters {
		if r.Metadata[k] != v {
			return false
		}
	}
	return true
}
