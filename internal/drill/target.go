package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/otelshop/shop/internal/flags"
)

// target points the drill's flag at the subject the load asks for most (from
// the spans of the last five minutes, and of the drills' own load when its
// start is known) and returns how to put the shipped rule back.
func target(ctx context.Context, cfg Config, d Drill) (restore func() error, err error) {
	t := d.Target
	now := time.Now()
	from := now.Add(-5 * time.Minute)
	if cfg.LoadStarted.After(from) {
		from = cfg.LoadStarted
	}
	traces, err := cfg.Backends.search(ctx, Search{Service: t.Service, Operation: t.Operation, Limit: 300}, from, now)
	if err != nil {
		return nil, err
	}
	count := map[string]int{}
	for _, tr := range traces {
		for _, s := range tr.Spans {
			if s.Service == t.Service && s.OperationName == t.Operation {
				if v := s.Tag(t.Attribute); v != "" {
					count[v]++
				}
			}
		}
	}
	if len(count) == 0 {
		return nil, fmt.Errorf("no %s span of %s carried %s since %s: is the load running?", t.Operation, t.Service, t.Attribute, from.Format("15:04:05"))
	}
	values := slices.Sorted(maps.Keys(count))
	slices.SortStableFunc(values, func(a, b string) int { return count[b] - count[a] })
	rule, _ := json.Marshal(map[string]any{"if": []any{map[string]any{"in": []any{map[string]any{"var": t.Var}, []string{values[0]}}}, nil, flags.Off}})
	previous, err := flags.SetTargeting(cfg.FlagsFile, cfg.Known, d.Fault, rule)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Log, "%s %-24s targeting %s=%s (%d of %d spans seen)\n", time.Now().Format("15:04:05"), d.Fault, t.Var, values[0], count[values[0]], len(traces))
	return func() error {
		_, err := flags.SetTargeting(cfg.FlagsFile, cfg.Known, d.Fault, previous)
		return err
	}, nil
}
