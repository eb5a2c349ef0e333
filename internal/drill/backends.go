package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/otelshop/shop/internal/standin"
)

// Backends are the telemetry backends' HTTP APIs, as compose and local mode
// publish them.
type Backends struct {
	Prometheus, Jaeger, Pyroscope, Loki string
	HTTP                                *http.Client
}

func (b Backends) get(ctx context.Context, base, path string, q url.Values, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	u := strings.TrimSuffix(base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	hc := b.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %.300s", u, resp.Status, body)
	}
	return json.Unmarshal(body, out)
}

// Alert is one of Prometheus's active alerts.
type Alert struct {
	Labels   map[string]string `json:"labels"`
	State    string            `json:"state"` // pending or firing
	ActiveAt time.Time         `json:"activeAt"`
}

// alerts returns the alerts Prometheus has active (pending or firing).
func (b Backends) alerts(ctx context.Context) ([]Alert, error) {
	var out struct {
		Data struct {
			Alerts []Alert `json:"alerts"`
		} `json:"data"`
	}
	if err := b.get(ctx, b.Prometheus, "/api/v1/alerts", nil, &out); err != nil {
		return nil, err
	}
	return out.Data.Alerts, nil
}

// youngestUptime is how long the youngest process of service has run, from
// process_uptime_seconds; ok is false while Prometheus has none of it.
func (b Backends) youngestUptime(ctx context.Context, service string) (uptime time.Duration, ok bool, err error) {
	var out struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	q := url.Values{"query": {fmt.Sprintf(`min(process_uptime_seconds{service_name=%q})`, service)}}
	if err := b.get(ctx, b.Prometheus, "/api/v1/query", q, &out); err != nil {
		return 0, false, err
	}
	if len(out.Data.Result) == 0 {
		return 0, false, nil
	}
	text, _ := out.Data.Result[0].Value[1].(string)
	seconds, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, false, fmt.Errorf("process_uptime_seconds of %s: %q", service, text)
	}
	return time.Duration(seconds * float64(time.Second)), true, nil
}

// ruleNames lists the alerting rules Prometheus has loaded.
func (b Backends) ruleNames(ctx context.Context) (map[string]bool, error) {
	var out struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name string `json:"name"`
					Type string `json:"type"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := b.get(ctx, b.Prometheus, "/api/v1/rules", url.Values{"type": {"alert"}}, &out); err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, g := range out.Data.Groups {
		for _, r := range g.Rules {
			names[r.Name] = true
		}
	}
	return names, nil
}

// exemplarTraces returns the trace ids of the exemplars of a query's series
// in [start, end], newest first.
func (b Backends) exemplarTraces(ctx context.Context, query string, start, end time.Time) ([]string, error) {
	var out struct {
		Data []struct {
			Exemplars []struct {
				Labels    map[string]string `json:"labels"`
				Timestamp float64           `json:"timestamp"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	q := url.Values{"query": {query}, "start": {unix(start)}, "end": {unix(end)}}
	if err := b.get(ctx, b.Prometheus, "/api/v1/query_exemplars", q, &out); err != nil {
		return nil, err
	}
	type ex struct {
		id string
		at float64
	}
	var all []ex
	for _, s := range out.Data {
		for _, e := range s.Exemplars {
			id := e.Labels["trace_id"]
			if id == "" {
				id = e.Labels["traceID"]
			}
			if id != "" {
				all = append(all, ex{id, e.Timestamp})
			}
		}
	}
	seen := map[string]bool{}
	var ids []string
	for i := len(all) - 1; i >= 0; i-- { // Prometheus returns them oldest first
		if !seen[all[i].id] {
			seen[all[i].id] = true
			ids = append(ids, all[i].id)
		}
	}
	return ids, nil
}

func unix(t time.Time) string { return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64) }

// Trace is a trace as Jaeger's HTTP API returns it.
type Trace struct {
	TraceID   string `json:"traceID"`
	Spans     []Span `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

// Span is one span of a Trace.
type Span struct {
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	StartTime int64  `json:"startTime"` // µs
	Duration  int64  `json:"duration"`  // µs
	Tags      []Tag  `json:"tags"`
	ProcessID string `json:"processID"`
	// Service is filled in from the trace's processes.
	Service string `json:"-"`
}

// Tag is a span attribute.
type Tag struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// Tag returns the span's attribute key as text.
func (s Span) Tag(key string) string {
	for _, t := range s.Tags {
		if t.Key == key {
			return fmt.Sprint(t.Value)
		}
	}
	return ""
}

// Failed says the span ended with an error status.
func (s Span) Failed() bool { return s.Tag("error") == "true" || s.Tag("otel.status_code") == "ERROR" }

// Took is the span's duration.
func (s Span) Took() time.Duration { return time.Duration(s.Duration) * time.Microsecond }

// Parent is the span's parent's id, "" for a root.
func (s Span) Parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// DBSystem is the span's database system, "" for a span that is not a query.
func (s Span) DBSystem() string {
	if v := s.Tag("db.system.name"); v != "" {
		return v
	}
	return s.Tag("db.system")
}

func (t *Trace) resolve() {
	for i := range t.Spans {
		t.Spans[i].Service = t.Processes[t.Spans[i].ProcessID].ServiceName
	}
}

// Children returns the spans whose parent is id.
func (t Trace) Children(id string) []Span {
	var out []Span
	for _, s := range t.Spans {
		if s.Parent() == id {
			out = append(out, s)
		}
	}
	return out
}

// Descendants returns every span below id.
func (t Trace) Descendants(id string) []Span {
	var out []Span
	for _, c := range t.Children(id) {
		out = append(out, c)
		out = append(out, t.Descendants(c.SpanID)...)
	}
	return out
}

// trace fetches one trace.
func (b Backends) trace(ctx context.Context, id string) (Trace, error) {
	var out struct {
		Data []Trace `json:"data"`
	}
	if err := b.get(ctx, b.Jaeger, "/api/traces/"+id, nil, &out); err != nil {
		return Trace{}, err
	}
	if len(out.Data) != 1 {
		return Trace{}, fmt.Errorf("Jaeger has no trace %s", id)
	}
	out.Data[0].resolve()
	return out.Data[0], nil
}

// Search is a Jaeger trace search.
type Search struct {
	Service, Operation string
	Tags               map[string]string
	MinDuration        time.Duration
	Limit              int
	// OlderThan, when set, leaves out traces younger than it: Jaeger answers
	// with the newest traces first, and a fault seen only in traces of a
	// certain age (an event still unpublished 30 s on) would be crowded out.
	OlderThan time.Duration
}

// search returns the traces Jaeger finds in [start, end].
func (b Backends) search(ctx context.Context, s Search, start, end time.Time) ([]Trace, error) {
	if s.OlderThan > 0 {
		if latest := time.Now().Add(-s.OlderThan); latest.Before(end) {
			end = latest
		}
		if !end.After(start) {
			return nil, nil
		}
	}
	q := url.Values{"service": {s.Service}, "start": {strconv.FormatInt(start.UnixMicro(), 10)},
		"end": {strconv.FormatInt(end.UnixMicro(), 10)}, "limit": {strconv.Itoa(max(s.Limit, 20))}}
	if s.Operation != "" {
		q.Set("operation", s.Operation)
	}
	if s.MinDuration > 0 {
		q.Set("minDuration", s.MinDuration.String())
	}
	if len(s.Tags) > 0 {
		b, _ := json.Marshal(s.Tags)
		q.Set("tags", string(b))
	}
	var out struct {
		Data []Trace `json:"data"`
	}
	if err := b.get(ctx, b.Jaeger, "/api/traces", q, &out); err != nil {
		return nil, err
	}
	for i := range out.Data {
		out.Data[i].resolve()
	}
	return out.Data, nil
}

// flameGraph asks Pyroscope (or its stand-in) for the merged profile of a
// service over [start, end].
func (b Backends) flameGraph(ctx context.Context, profileType, service string, start, end time.Time) (standin.Render, error) {
	var out standin.Render
	q := url.Values{"query": {profileType + `{service_name="` + service + `"}`},
		"from": {strconv.FormatInt(start.Unix(), 10)}, "until": {strconv.FormatInt(end.Unix(), 10)}, "format": {"json"}}
	err := b.get(ctx, b.Pyroscope, "/pyroscope/render", q, &out)
	return out, err
}

// logLines returns the log lines Loki (or its stand-in) finds for a LogQL query.
func (b Backends) logLines(ctx context.Context, query string, start, end time.Time) ([]string, error) {
	var out struct {
		Data struct {
			Result []struct {
				Values [][]string `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	q := url.Values{"query": {query}, "start": {strconv.FormatInt(start.UnixNano(), 10)},
		"end": {strconv.FormatInt(end.UnixNano(), 10)}, "limit": {"50"}}
	if err := b.get(ctx, b.Loki, "/loki/api/v1/query_range", q, &out); err != nil {
		return nil, err
	}
	var lines []string
	for _, s := range out.Data.Result {
		for _, v := range s.Values {
			if len(v) == 2 {
				lines = append(lines, v[1])
			}
		}
	}
	return lines, nil
}
