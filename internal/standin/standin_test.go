package standin

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

func cpuProfile(stacks map[string]int64) *profile.Profile {
	p := &profile.Profile{SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}}}
	fns := map[string]*profile.Function{}
	loc := func(name string) *profile.Location {
		f, ok := fns[name]
		if !ok {
			f = &profile.Function{ID: uint64(len(fns) + 1), Name: name}
			fns[name] = f
			p.Function = append(p.Function, f)
		}
		l := &profile.Location{ID: uint64(len(p.Location) + 1), Line: []profile.Line{{Function: f}}}
		p.Location = append(p.Location, l)
		return l
	}
	for stack, v := range stacks {
		names := strings.Split(stack, ";") // root first
		var locs []*profile.Location
		for i := len(names) - 1; i >= 0; i-- {
			locs = append(locs, loc(names[i]))
		}
		p.Sample = append(p.Sample, &profile.Sample{Location: locs, Value: []int64{1, v}})
	}
	return p
}

func upload(t *testing.T, h http.Handler, name string, p *profile.Profile) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("profile", "profile.pprof")
	if err := p.Write(fw); err != nil {
		t.Fatal(err)
	}
	mw.Close()
	now := time.Now()
	q := url.Values{"name": {name}, "from": {strconv.FormatInt(now.Add(-10*time.Second).UnixNano(), 10)},
		"until": {strconv.FormatInt(now.UnixNano(), 10)}}
	req := httptest.NewRequest(http.MethodPost, "/ingest?"+q.Encode(), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("ingest: %d %s", rec.Code, rec.Body)
	}
}

// The merged flame graph of one service's CPU profiles, decoded as a client of
// Pyroscope decodes /pyroscope/render, gives each function its self time.
func TestProfiles_RenderMergesTheSelectedService(t *testing.T) {
	p := &Profiles{}
	upload(t, p, "catalog{service_version=1}", cpuProfile(map[string]int64{"main;handle;editDistance": 70, "main;handle": 10}))
	upload(t, p, "catalog{service_version=1}", cpuProfile(map[string]int64{"main;handle;editDistance": 20}))
	upload(t, p, "cart{service_version=1}", cpuProfile(map[string]int64{"main;keep": 500}))

	q := url.Values{"query": {`process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="catalog"}`}, "from": {"now-5m"}, "until": {"now"}}
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/pyroscope/render?"+q.Encode(), nil))
	var r Render
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	self := SelfByFunction(r)
	if r.Flamebearer.NumTicks != 100 || self["editDistance"] != 90 || self["handle"] != 10 || self["keep"] != 0 {
		t.Errorf("ticks %d, self %v; want 100 ticks, editDistance 90, handle 10, nothing of cart", r.Flamebearer.NumTicks, self)
	}
}

func TestLogs_QueryRange_StreamLineAndTraceFilters(t *testing.T) {
	file := filepath.Join(t.TempDir(), "logs.jsonl")
	line := func(svc, msg, trace string) string {
		b, _ := json.Marshal(map[string]any{"resourceLogs": []any{map[string]any{
			"resource": map[string]any{"attributes": []any{map[string]any{"key": "service.name", "value": map[string]any{"stringValue": svc}}}},
			"scopeLogs": []any{map[string]any{"logRecords": []any{map[string]any{
				"timeUnixNano": strconv.FormatInt(time.Now().UnixNano(), 10), "severityText": "WARN",
				"body": map[string]any{"stringValue": msg}, "traceId": trace}}}}}}})
		return string(b)
	}
	data := strings.Join([]string{line("orders", "outbox relay: blocked", "aa"), line("orders", "order placed", "bb"), line("cart", "outbox relay: blocked", "cc")}, "\n") + "\n"
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	l := &Logs{File: file}
	for query, want := range map[string]int{
		`{service_name="orders"}`:                              2,
		`{service_name="orders"} |= "blocked"`:                 1,
		`{service_name="orders"} | trace_id="bb"`:              1,
		`{service_name="orders"} |= "blocked" | trace_id="bb"`: 0,
	} {
		rec := httptest.NewRecorder()
		l.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/loki/api/v1/query_range?"+url.Values{"query": {query}}.Encode(), nil))
		var out struct {
			Data struct {
				Result []struct{ Values [][]string }
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: %v %s", query, err, rec.Body)
		}
		n := 0
		for _, s := range out.Data.Result {
			n += len(s.Values)
		}
		if n != want {
			t.Errorf("%s: %d lines, want %d", query, n, want)
		}
	}
	rec := httptest.NewRecorder()
	l.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/loki/api/v1/query_range?"+url.Values{"query": {`{service_name=~"o.*"}`}}.Encode(), nil))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("an unsupported matcher: %d, want 400", rec.Code)
	}
}
