// Package standin serves the parts of Pyroscope's and Loki's HTTP APIs the
// shop uses, for machines where neither server can run (local mode and the
// end-to-end test): pyroscope-go's uploads and the /pyroscope/render query, and
// Loki's query_range over the log file the collector writes. They keep what
// they are sent in memory or read it from disk; they are stand-ins for tests
// and drills, not stores.
package standin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/pprof/profile"
)

// Upload is one profile pyroscope-go sent.
type Upload struct {
	App string // the application name: the service.name
	// Type is the profile's last sample type as pprof names it: cpu,
	// inuse_space, goroutine, delay…
	Type string
	// Kind is Pyroscope's name of the profile's family: process_cpu, memory,
	// goroutine, mutex, block.
	Kind string
	// Labels are the series labels Pyroscope would index the profile by: the
	// uploader's tags, and the application name as service_name.
	Labels      map[string]string
	Profile     *profile.Profile
	From, Until time.Time
}

// Profiles keeps uploaded profiles for a while and answers flame graph queries.
type Profiles struct {
	// Retention bounds how long uploads are kept; zero means 30 minutes.
	Retention time.Duration

	mu      sync.Mutex
	uploads []Upload
}

// Uploads returns what is kept.
func (p *Profiles) Uploads() []Upload {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.uploads)
}

// ServeHTTP serves POST /ingest, GET /pyroscope/render and GET /ready.
func (p *Profiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/ingest":
		p.ingest(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/pyroscope/render":
		p.render(w, r)
	case r.URL.Path == "/ready":
		w.WriteHeader(http.StatusOK)
	default:
		http.NotFound(w, r)
	}
}

func (p *Profiles) ingest(w http.ResponseWriter, r *http.Request) {
	if r.ParseMultipartForm(32<<20) != nil {
		http.Error(w, "bad upload", http.StatusBadRequest)
		return
	}
	file, _, err := r.FormFile("profile")
	if err != nil {
		http.Error(w, "no profile", http.StatusBadRequest)
		return
	}
	defer file.Close()
	data, _ := io.ReadAll(file)
	prof, err := profile.Parse(bytes.NewReader(data))
	if err != nil {
		http.Error(w, "not pprof: "+err.Error(), http.StatusBadRequest)
		return
	}
	// The mutex and block profiles have the same sample types; pyroscope-go
	// tells them apart in sample_type_config's display names.
	var display map[string]struct {
		DisplayName string `json:"display-name"`
	}
	if f, _, err := r.FormFile("sample_type_config"); err == nil {
		_ = json.NewDecoder(f).Decode(&display)
		f.Close()
	}
	// name is "<app>{tag=value,...}".
	q := r.URL.Query()
	app, tags, _ := strings.Cut(q.Get("name"), "{")
	labels := map[string]string{"service_name": app}
	for _, kv := range strings.Split(strings.TrimSuffix(tags, "}"), ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			labels[k] = v
		}
	}
	u := Upload{App: app, Labels: labels, Profile: prof, From: nanos(q.Get("from")), Until: nanos(q.Get("until"))}
	if n := len(prof.SampleType); n > 0 {
		u.Type = prof.SampleType[n-1].Type
	}
	u.Kind = kindOf(prof, display["contentions"].DisplayName)
	if u.Until.IsZero() {
		u.Until = time.Now()
	}
	p.mu.Lock()
	retention := p.Retention
	if retention <= 0 {
		retention = 30 * time.Minute
	}
	cutoff := time.Now().Add(-retention)
	p.uploads = slices.DeleteFunc(p.uploads, func(u Upload) bool { return u.Until.Before(cutoff) })
	p.uploads = append(p.uploads, u)
	p.mu.Unlock()
}

func nanos(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// kindOf names the profile's family as Pyroscope's profile type ids do.
func kindOf(p *profile.Profile, contentionsDisplay string) string {
	types := map[string]bool{}
	for _, st := range p.SampleType {
		types[st.Type] = true
	}
	switch {
	case types["cpu"]:
		return "process_cpu"
	case types["inuse_space"] || types["alloc_space"]:
		return "memory"
	case types["goroutine"] || types["goroutines"]:
		return "goroutine"
	case types["contentions"] && strings.HasPrefix(contentionsDisplay, "block"):
		return "block"
	case types["contentions"]:
		return "mutex"
	}
	return "unknown"
}

var queryPattern = regexp.MustCompile(`^([a-z_]+):([a-z_]+):[a-z]+:[a-z_]+:[a-z]+\{(.*)\}$`)

// Render is the answer of /pyroscope/render: a flame graph in Pyroscope's
// flamebearer format (names, then levels of [x offset, total, self, name]
// quadruples, offsets relative to the previous node's end on the level).
type Render struct {
	Flamebearer struct {
		Names    []string  `json:"names"`
		Levels   [][]int64 `json:"levels"`
		NumTicks int64     `json:"numTicks"`
		MaxSelf  int64     `json:"maxSelf"`
	} `json:"flamebearer"`
	Metadata struct {
		Format string `json:"format"`
		Units  string `json:"units"`
		Name   string `json:"name"`
	} `json:"metadata"`
}

// render answers query=<profile type id>{label="value",...}&from=&until= with
// the merged flame graph of every matching upload in the range.
func (p *Profiles) render(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m := queryPattern.FindStringSubmatch(q.Get("query"))
	if m == nil {
		http.Error(w, `query must be <profile type id>{label="value",...}`, http.StatusBadRequest)
		return
	}
	kind, sampleType := m[1], m[2]
	selector, err := ParseSelector("{" + m[3] + "}")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	from, err1 := ParseTime(q.Get("from"), now, now.Add(-time.Hour))
	until, err2 := ParseTime(q.Get("until"), now, now)
	if err1 != nil || err2 != nil {
		http.Error(w, "from and until are unix seconds or now-<duration>", http.StatusBadRequest)
		return
	}
	root := &node{}
	for _, u := range p.Uploads() {
		if u.Kind != kind || !selector.Matches(u.Labels) || u.Until.Before(from) || u.From.After(until) {
			continue
		}
		idx := slices.IndexFunc(u.Profile.SampleType, func(st *profile.ValueType) bool { return st.Type == sampleType })
		if idx < 0 {
			continue
		}
		for _, s := range u.Profile.Sample {
			if v := s.Value[idx]; v > 0 {
				root.add(stackOf(s), v)
			}
		}
	}
	var out Render
	out.Metadata.Format, out.Metadata.Name = "single", q.Get("query")
	out.Metadata.Units = sampleType
	out.Flamebearer.Names, out.Flamebearer.Levels, out.Flamebearer.MaxSelf = root.flamebearer()
	out.Flamebearer.NumTicks = root.total
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// stackOf is a sample's functions, root first (pprof lists the leaf first, and
// a location's inlined functions last-called first).
func stackOf(s *profile.Sample) []string {
	var names []string
	for i := len(s.Location) - 1; i >= 0; i-- {
		lines := s.Location[i].Line
		for j := len(lines) - 1; j >= 0; j-- {
			if f := lines[j].Function; f != nil && f.Name != "" {
				names = append(names, f.Name)
			} else {
				names = append(names, "[unknown]")
			}
		}
	}
	return names
}

type node struct {
	name        string
	total, self int64
	children    []*node
}

func (n *node) add(stack []string, v int64) {
	n.total += v
	if len(stack) == 0 {
		n.self += v
		return
	}
	i := slices.IndexFunc(n.children, func(c *node) bool { return c.name == stack[0] })
	if i < 0 {
		n.children = append(n.children, &node{name: stack[0]})
		i = len(n.children) - 1
	}
	n.children[i].add(stack[1:], v)
}

// flamebearer lays the tree out level by level, children in name order.
func (n *node) flamebearer() (names []string, levels [][]int64, maxSelf int64) {
	index := map[string]int64{}
	nameOf := func(s string) int64 {
		if i, ok := index[s]; ok {
			return i
		}
		index[s] = int64(len(names))
		names = append(names, s)
		return index[s]
	}
	n.name = "total"
	type placed struct {
		n *node
		x int64
	}
	level := []placed{{n, 0}}
	for len(level) > 0 {
		var row []int64
		var next []placed
		end := int64(0)
		for _, p := range level {
			row = append(row, p.x-end, p.n.total, p.n.self, nameOf(p.n.name))
			end = p.x + p.n.total
			maxSelf = max(maxSelf, p.n.self)
			slices.SortFunc(p.n.children, func(a, b *node) int { return strings.Compare(a.name, b.name) })
			x := p.x
			for _, c := range p.n.children {
				next = append(next, placed{c, x})
				x += c.total
			}
		}
		levels = append(levels, row)
		level = next
	}
	return names, levels, maxSelf
}

// Selector is a set of label="value" matchers.
type Selector map[string]string

var matcherPattern = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"\\]*)"\s*$`)

// ParseSelector reads {a="x", b="y"} (equality matchers only).
func ParseSelector(s string) (Selector, error) {
	inner, ok := strings.CutPrefix(strings.TrimSpace(s), "{")
	inner, ok2 := strings.CutSuffix(inner, "}")
	if !ok || !ok2 {
		return nil, fmt.Errorf("selector %q is not {label=\"value\", ...}", s)
	}
	out := Selector{}
	if strings.TrimSpace(inner) == "" {
		return out, nil
	}
	for _, part := range strings.Split(inner, ",") {
		m := matcherPattern.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("selector %q: %q is not label=\"value\"", s, part)
		}
		out[m[1]] = m[2]
	}
	return out, nil
}

// Matches says whether labels has every matcher's value.
func (s Selector) Matches(labels map[string]string) bool {
	for k, v := range s {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// ParseTime reads unix seconds, "now" or "now-<Go duration>"; empty is def.
func ParseTime(s string, now, def time.Time) (time.Time, error) {
	switch {
	case s == "":
		return def, nil
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "now-"):
		d, err := time.ParseDuration(s[len("now-"):])
		return now.Add(-d), err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	if n > 1e15 { // nanoseconds, as Loki's start and end
		return time.Unix(0, n), nil
	}
	return time.Unix(n, 0), nil
}

// SelfByFunction decodes a flamebearer into each function's self value, summed
// over every place it appears.
func SelfByFunction(r Render) map[string]int64 {
	out := map[string]int64{}
	for _, level := range r.Flamebearer.Levels {
		for i := 0; i+3 < len(level); i += 4 {
			if name := level[i+3]; name >= 0 && int(name) < len(r.Flamebearer.Names) {
				out[r.Flamebearer.Names[name]] += level[i+2]
			}
		}
	}
	return out
}

// TotalByFunction decodes a flamebearer into each function's total value (time
// in it and below it), counting a function once per stack it is on.
func TotalByFunction(r Render) map[string]int64 {
	out := map[string]int64{}
	type span struct {
		x, end int64
		name   string
	}
	var parents []span // the previous level's nodes, with their callers' names
	ancestors := map[int]map[string]bool{}
	for _, level := range r.Flamebearer.Levels {
		var cur []span
		curAnc := map[int]map[string]bool{}
		x := int64(0)
		for i := 0; i+3 < len(level); i += 4 {
			x += level[i]
			total, name := level[i+1], r.Flamebearer.Names[level[i+3]]
			// The caller is the previous level's node covering x.
			anc := map[string]bool{}
			for j, p := range parents {
				if x >= p.x && x < p.end {
					for a := range ancestors[j] {
						anc[a] = true
					}
					anc[p.name] = true
				}
			}
			if !anc[name] { // recursion counts once
				out[name] += total
			}
			curAnc[len(cur)] = anc
			cur = append(cur, span{x, x + total, name})
			x += total
		}
		parents, ancestors = cur, curAnc
	}
	return out
}
