package drill

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/otelshop/shop/internal/standin"
)

// Evidence is what explains a fault, found through the backends' APIs the way
// a person would find it: from an exemplar or a trace search to the culprit
// span, from a service to its profile, from a trace to its logs.
type Evidence interface {
	// Find looks in [start, end]; it returns what it found, or why not.
	Find(ctx context.Context, b Backends, start, end time.Time) (found string, err error)
	// Describe says what it looks for.
	Describe() string
}

// SpanEvidence is a trace in which a span of Service named Operation shows the
// fault, as Check judges it. Candidate traces come from the exemplars of
// Exemplars (a PromQL selector of a histogram with exemplars), then from a
// Jaeger search.
type SpanEvidence struct {
	Service, Operation string
	// Exemplars selects the exemplar series to start from ("" for none).
	Exemplars string
	// Search narrows the Jaeger search (service and operation are filled in).
	Search Search
	// Check says whether span s of trace t shows the fault, and how.
	Check func(t Trace, s Span) (string, bool)
	// What says in words what Check looks for.
	What string
	// Logs asks, besides, for a log line of Service carrying the trace's id.
	Logs bool
}

func (e SpanEvidence) Describe() string {
	d := fmt.Sprintf("a trace whose %s span %q %s", e.Service, e.Operation, e.What)
	if e.Logs {
		d += ", and a log line of " + e.Service + " with its trace id"
	}
	return d
}

func (e SpanEvidence) Find(ctx context.Context, b Backends, start, end time.Time) (string, error) {
	type candidate struct {
		id, via string
	}
	var candidates []candidate
	var problems []string
	if e.Exemplars != "" {
		ids, err := b.exemplarTraces(ctx, e.Exemplars, start, end)
		if err != nil {
			problems = append(problems, "exemplars: "+err.Error())
		}
		for _, id := range ids[:min(len(ids), 30)] {
			candidates = append(candidates, candidate{id, "exemplar"})
		}
	}
	search := e.Search
	search.Service, search.Operation = e.Service, e.Operation
	traces, err := b.search(ctx, search, start, end)
	if err != nil {
		problems = append(problems, "Jaeger search: "+err.Error())
	}
	found := map[string]Trace{}
	for _, t := range traces {
		found[t.TraceID] = t
		candidates = append(candidates, candidate{t.TraceID, "Jaeger search"})
	}
	seen := map[string]bool{}
	matched := 0
	for _, c := range candidates {
		if seen[c.id] {
			continue
		}
		seen[c.id] = true
		t, ok := found[c.id]
		if !ok {
			if t, err = b.trace(ctx, c.id); err != nil {
				continue // an exemplar of a trace Jaeger has not stored (yet)
			}
		}
		for _, s := range t.Spans {
			if s.Service != e.Service || s.OperationName != e.Operation {
				continue
			}
			detail, ok := e.Check(t, s)
			if !ok {
				continue
			}
			matched++
			desc := fmt.Sprintf("trace %s (%s): %s %q %s", t.TraceID, c.via, s.Service, s.OperationName, detail)
			if !e.Logs {
				return desc, nil
			}
			lines, err := b.logLines(ctx, fmt.Sprintf(`{service_name=%q} | trace_id=%q`, e.Service, t.TraceID), start, end.Add(time.Minute))
			if err == nil && len(lines) > 0 {
				return desc + fmt.Sprintf("; %d log line(s) of %s carry its trace id", len(lines), e.Service), nil
			}
		}
	}
	switch {
	case matched > 0:
		return "", fmt.Errorf("%d trace(s) show it, but no log line of %s carries their trace id", matched, e.Service)
	case len(problems) > 0:
		return "", errors.New(strings.Join(problems, "; "))
	}
	return "", fmt.Errorf("none of %d candidate traces shows it", len(seen))
}

// ProfileEvidence is a profile of Service in which Function (a substring of
// the fully qualified name) holds at least MinShare of the total: the top of
// the flame graph.
type ProfileEvidence struct {
	Type     string // Pyroscope profile type id
	Service  string
	Function string
	MinShare float64
}

func (e ProfileEvidence) Describe() string {
	return fmt.Sprintf("%s's %s profile with %s holding %.0f %% or more", e.Service, profileName(e.Type), e.Function, e.MinShare*100)
}

func (e ProfileEvidence) Find(ctx context.Context, b Backends, start, end time.Time) (string, error) {
	r, err := b.flameGraph(ctx, e.Type, e.Service, start, end)
	if err != nil {
		return "", err
	}
	if r.Flamebearer.NumTicks == 0 {
		return "", fmt.Errorf("no %s profile of %s in the window", profileName(e.Type), e.Service)
	}
	totals := standin.TotalByFunction(r)
	var best string
	var bestShare float64
	for fn, v := range totals {
		if share := float64(v) / float64(r.Flamebearer.NumTicks); strings.Contains(fn, e.Function) && share > bestShare {
			best, bestShare = fn, share
		}
	}
	if best == "" || bestShare < e.MinShare {
		return "", fmt.Errorf("%s holds %.0f %% of %s's %s profile; the top of it is %s", e.Function, bestShare*100, e.Service,
			profileName(e.Type), strings.Join(topSelf(r, 3), ", "))
	}
	return fmt.Sprintf("%s's %s profile: %s holds %.0f %% (top by self: %s)", e.Service, profileName(e.Type), best, bestShare*100,
		strings.Join(topSelf(r, 3), ", ")), nil
}

func topSelf(r standin.Render, n int) []string {
	self := standin.SelfByFunction(r)
	names := make([]string, 0, len(self))
	for fn := range self {
		names = append(names, fn)
	}
	slices.SortFunc(names, func(a, b string) int { return int(self[b] - self[a]) })
	out := names[:min(n, len(names))]
	for i, fn := range out {
		out[i] = fmt.Sprintf("%s %.0f %%", shortName(fn), 100*float64(self[fn])/float64(max(r.Flamebearer.NumTicks, 1)))
	}
	return out
}

func shortName(fn string) string {
	if i := strings.LastIndexByte(fn, '/'); i >= 0 {
		return fn[i+1:]
	}
	return fn
}

func profileName(typ string) string {
	switch {
	case strings.HasPrefix(typ, "process_cpu"):
		return "CPU"
	case strings.HasPrefix(typ, "memory:inuse_space"):
		return "in-use memory"
	case strings.HasPrefix(typ, "goroutine"):
		return "goroutine"
	case strings.HasPrefix(typ, "mutex"):
		return "mutex"
	case strings.HasPrefix(typ, "block"):
		return "block"
	}
	return typ
}

// LogEvidence is a log line of Service containing Contains.
type LogEvidence struct {
	Service, Contains string
}

func (e LogEvidence) Describe() string {
	return fmt.Sprintf("a log line of %s saying %q", e.Service, e.Contains)
}

func (e LogEvidence) Find(ctx context.Context, b Backends, start, end time.Time) (string, error) {
	lines, err := b.logLines(ctx, fmt.Sprintf(`{service_name=%q} |= %q`, e.Service, e.Contains), start, end)
	if err != nil {
		return "", err
	}
	if len(lines) == 0 {
		return "", fmt.Errorf("no log line of %s says %q", e.Service, e.Contains)
	}
	return fmt.Sprintf("%d log line(s) of %s: %.160s", len(lines), e.Service, lines[0]), nil
}

// AllOf is evidence made of several pieces, every one needed.
type AllOf []Evidence

func (a AllOf) Describe() string {
	parts := make([]string, len(a))
	for i, e := range a {
		parts[i] = e.Describe()
	}
	return strings.Join(parts, "; and ")
}

func (a AllOf) Find(ctx context.Context, b Backends, start, end time.Time) (string, error) {
	var found []string
	for _, e := range a {
		f, err := e.Find(ctx, b, start, end)
		if err != nil {
			return "", err
		}
		found = append(found, f)
	}
	return strings.Join(found, "; "), nil
}
