package standin

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Logs answers Loki's /loki/api/v1/query_range from the file the collector's
// file exporter writes (one OTLP ExportLogsServiceRequest as JSON per line),
// with the labels Loki's OTLP endpoint gives: resource attributes with dots
// as underscores, and trace_id as structured metadata.
//
// The queries it understands are the ones the shop's links and drills use: a
// stream selector of equality matchers, then any of `|= "text"` line filters and
// `| label="value"` filters on structured metadata (trace_id, span_id).
type Logs struct {
	File string
}

// Record is one log record as Loki would hold it.
type Record struct {
	Time     time.Time
	Labels   map[string]string // the stream
	Metadata map[string]string // structured metadata: trace_id, span_id
	Line     string
}

// ServeHTTP serves GET /loki/api/v1/query_range and GET /ready.
func (l *Logs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ready":
		w.WriteHeader(http.StatusOK)
	case "/loki/api/v1/query_range":
		l.queryRange(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (l *Logs) queryRange(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query, err := ParseLogQuery(q.Get("query"))
	if err != nil {
		writeLokiError(w, err)
		return
	}
	now := time.Now()
	start, err1 := ParseTime(q.Get("start"), now, now.Add(-time.Hour))
	end, err2 := ParseTime(q.Get("end"), now, now)
	limit, err3 := strconv.Atoi(q.Get("limit"))
	if q.Get("limit") == "" {
		limit, err3 = 100, nil
	}
	if err1 != nil || err2 != nil || err3 != nil || limit <= 0 {
		writeLokiError(w, fmt.Errorf("start and end are unix nanoseconds, seconds or now-<duration>; limit a positive number"))
		return
	}
	records, err := l.Records()
	if err != nil {
		writeLokiError(w, err)
		return
	}
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][]string        `json:"values"`
	}
	var streams []*stream
	byKey := map[string]*stream{}
	n := 0
	for _, rec := range slices.Backward(records) { // newest first, as Loki's default direction
		if n >= limit || rec.Time.Before(start) || rec.Time.After(end) || !query.Matches(rec) {
			continue
		}
		key := fmt.Sprint(rec.Labels)
		s, ok := byKey[key]
		if !ok {
			s = &stream{Stream: rec.Labels}
			byKey[key] = s
			streams = append(streams, s)
		}
		s.Values = append(s.Values, []string{strconv.FormatInt(rec.Time.UnixNano(), 10), rec.Line})
		n++
	}
	out := map[string]any{"status": "success", "data": map[string]any{"resultType": "streams", "result": streams}}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func writeLokiError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "error": err.Error()})
}

// Records reads every record of the file, oldest first.
func (l *Logs) Records() ([]Record, error) {
	f, err := os.Open(l.File)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	type anyValue struct {
		StringValue *string `json:"stringValue"`
		IntValue    *string `json:"intValue"`
		BoolValue   *bool   `json:"boolValue"`
	}
	type kv struct {
		Key   string   `json:"key"`
		Value anyValue `json:"value"`
	}
	str := func(v anyValue) string {
		switch {
		case v.StringValue != nil:
			return *v.StringValue
		case v.IntValue != nil:
			return *v.IntValue
		case v.BoolValue != nil:
			return strconv.FormatBool(*v.BoolValue)
		}
		return ""
	}
	var out []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var batch struct {
			ResourceLogs []struct {
				Resource struct {
					Attributes []kv `json:"attributes"`
				} `json:"resource"`
				ScopeLogs []struct {
					LogRecords []struct {
						TimeUnixNano         string   `json:"timeUnixNano"`
						ObservedTimeUnixNano string   `json:"observedTimeUnixNano"`
						SeverityText         string   `json:"severityText"`
						Body                 anyValue `json:"body"`
						Attributes           []kv     `json:"attributes"`
						TraceID              string   `json:"traceId"`
						SpanID               string   `json:"spanId"`
					} `json:"logRecords"`
				} `json:"scopeLogs"`
			} `json:"resourceLogs"`
		}
		if err := json.Unmarshal(sc.Bytes(), &batch); err != nil {
			return nil, fmt.Errorf("a line of %s is not OTLP JSON: %w", l.File, err)
		}
		for _, rl := range batch.ResourceLogs {
			labels := map[string]string{}
			for _, a := range rl.Resource.Attributes {
				labels[strings.ReplaceAll(a.Key, ".", "_")] = str(a.Value)
			}
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					ts := lr.TimeUnixNano
					if ts == "" || ts == "0" {
						ts = lr.ObservedTimeUnixNano
					}
					ns, _ := strconv.ParseInt(ts, 10, 64)
					line := map[string]string{"msg": str(lr.Body), "level": lr.SeverityText}
					for _, a := range lr.Attributes {
						line[a.Key] = str(a.Value)
					}
					text, _ := json.Marshal(line)
					out = append(out, Record{Time: time.Unix(0, ns), Labels: labels,
						Metadata: map[string]string{"trace_id": lr.TraceID, "span_id": lr.SpanID}, Line: string(text)})
				}
			}
		}
	}
	return out, sc.Err()
}

// LogQuery is the LogQL subset Logs evaluates.
type LogQuery struct {
	Stream   Selector
	Contains []string // |= "text"
	Metadata Selector // | label="value"
}

var logFilter = regexp.MustCompile(`^\s*(\|=\s*"([^"\\]*)"|\|\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"\\]*)")`)

// ParseLogQuery reads `{a="x"} |= "text" | trace_id="..."`.
func ParseLogQuery(expr string) (LogQuery, error) {
	end := strings.IndexByte(expr, '}')
	if end < 0 {
		return LogQuery{}, fmt.Errorf("LogQL %q has no stream selector", expr)
	}
	stream, err := ParseSelector(expr[:end+1])
	if err != nil {
		return LogQuery{}, err
	}
	q := LogQuery{Stream: stream, Metadata: Selector{}}
	rest := expr[end+1:]
	for strings.TrimSpace(rest) != "" {
		m := logFilter.FindStringSubmatch(rest)
		if m == nil {
			return LogQuery{}, fmt.Errorf("LogQL %q: %q is neither |= \"text\" nor | label=\"value\"", expr, strings.TrimSpace(rest))
		}
		if m[3] != "" {
			q.Metadata[m[3]] = m[4]
		} else {
			q.Contains = append(q.Contains, m[2])
		}
		rest = rest[len(m[0]):]
	}
	return q, nil
}

// Matches says whether the record is in the query's result.
func (q LogQuery) Matches(r Record) bool {
	if !q.Stream.Matches(r.Labels) || !q.Metadata.Matches(r.Metadata) {
		return false
	}
	for _, s := range q.Contains {
		if !strings.Contains(r.Line, s) {
			return false
		}
	}
	return true
}
