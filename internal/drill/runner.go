// Package drill proves that the platform catches its own faults: for each fault
// of the catalogue it turns the fault's flag on under load, waits for the
// expected alert to fire in Prometheus (detected), finds the evidence through
// the backends' APIs (explained), turns the flag off and waits for the alert to
// clear (resolved), and reports the times.
package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/internal/service"
)

// Config says where the platform is and how to drill it.
type Config struct {
	Backends Backends
	// FlagsFile is the flag file every process of the platform reads.
	FlagsFile string
	Known     []flags.Spec
	// Resolve measures resolution too: the flag off, the alert cleared.
	Resolve bool
	// Parallel runs the drills at once (their alerts and culprits must differ);
	// otherwise one after the other.
	Parallel bool
	// Waves runs the drills in waves of at most one drill per service, the
	// drills of a wave at once: a whole catalogue in the time of its busiest
	// service's drills, and no two faults of one service mixed in one alert.
	Waves bool
	// DetectTimeout, ExplainTimeout and ResolveTimeout bound each phase;
	// zero means 6, 3 and 10 minutes.
	DetectTimeout, ExplainTimeout, ResolveTimeout time.Duration
	// LoadStarted is when the steady load the drills run under began: a drill
	// that targets the subject the load asks for most reads only the spans since
	// then, since another run of the load generator favours other products.
	LoadStarted time.Time
	// Poll is how often the backends are asked; zero means 5 s.
	Poll time.Duration
	// Log receives progress, one line per event.
	Log io.Writer
}

// Result is what a drill found.
type Result struct {
	Fault    string `json:"fault"`
	Variant  string `json:"variant"`
	Kind     string `json:"kind"`
	Alert    string `json:"alert"`
	Labels   string `json:"labels"`
	Detected bool   `json:"detected"`
	// TimeToDetect runs from the flag change to the alert's firing.
	TimeToDetect Duration `json:"time_to_detect"`
	Explained    bool     `json:"explained"`
	Evidence     string   `json:"evidence"`
	// TimeToExplain runs from the firing to the evidence found.
	TimeToExplain Duration `json:"time_to_explain"`
	// Resolved is set when resolution was measured.
	Resolved      bool     `json:"resolved"`
	TimeToResolve Duration `json:"time_to_resolve"`
	Problem       string   `json:"problem,omitempty"`
}

// Duration is a time.Duration written as "1m23s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).Round(time.Second).String() + `"`), nil
}

// OK says the drill proved what it must: detected and explained (and
// resolved, when that was measured).
func (r Result) OK(resolve bool) bool { return r.Detected && r.Explained && (!resolve || r.Resolved) }

// Run runs the drills and returns a result for each, in order. It turns every
// flag it changed back off before returning, whatever happened.
func Run(ctx context.Context, cfg Config, drills []Drill) ([]Result, error) {
	cfg = cfg.withDefaults()
	if err := preflight(ctx, cfg, drills); err != nil {
		return nil, err
	}
	results := make([]Result, len(drills))
	var mu sync.Mutex // the flag file is edited by one drill at a time
	atOnce := func(indices []int) {
		var wg sync.WaitGroup
		for _, i := range indices {
			wg.Go(func() { results[i] = runOneLocked(ctx, cfg, drills[i], &mu) })
		}
		wg.Wait()
	}
	switch {
	case cfg.Waves:
		for _, wave := range Waves(drills) {
			if ctx.Err() != nil {
				break
			}
			atOnce(wave)
		}
	case cfg.Parallel:
		all := make([]int, len(drills))
		for i := range all {
			all[i] = i
		}
		atOnce(all)
	default:
		for i, d := range drills {
			results[i] = runOne(ctx, cfg, d)
		}
	}
	return results, ctx.Err()
}

// Waves splits drills, in order, into waves holding at most one drill of each
// service (the service_name its alert is for), and returns each wave as indices
// into drills.
func Waves(drills []Drill) [][]int {
	var waves [][]int
	var busy []map[string]bool // busy[w][service]: wave w has a drill of service
	for i, d := range drills {
		svc := d.Labels["service_name"]
		w := 0
		for w < len(waves) && busy[w][svc] {
			w++
		}
		if w == len(waves) {
			waves, busy = append(waves, nil), append(busy, map[string]bool{})
		}
		waves[w], busy[w][svc] = append(waves[w], i), true
	}
	return waves
}

func (c Config) withDefaults() Config {
	if c.DetectTimeout <= 0 {
		c.DetectTimeout = 6 * time.Minute
	}
	if c.ExplainTimeout <= 0 {
		c.ExplainTimeout = 3 * time.Minute
	}
	if c.ResolveTimeout <= 0 {
		c.ResolveTimeout = 10 * time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = 5 * time.Second
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// preflight checks what every drill relies on before any flag changes: the
// flag file names its faults and variants, and Prometheus has its alerts.
func preflight(ctx context.Context, cfg Config, drills []Drill) error {
	list, err := flags.List(cfg.FlagsFile, cfg.Known)
	if err != nil {
		return fmt.Errorf("flag file: %w", err)
	}
	byKey := map[string]flags.Status{}
	for _, s := range list {
		byKey[s.Key] = s
	}
	rules, err := cfg.Backends.ruleNames(ctx)
	if err != nil {
		return fmt.Errorf("Prometheus rules: %w", err)
	}
	var problems []string
	for _, d := range drills {
		s, ok := byKey[d.Fault]
		switch {
		case !ok:
			problems = append(problems, d.Fault+": not in the flag file")
		case !slices.Contains(s.Variants, d.Variant):
			problems = append(problems, fmt.Sprintf("%s: no variant %q (%s)", d.Fault, d.Variant, strings.Join(s.Variants, ", ")))
		case s.Active:
			problems = append(problems, d.Fault+": already on ("+s.Variant+"); `shop flags reset` first")
		}
		if !rules[d.Alert] {
			problems = append(problems, fmt.Sprintf("%s: Prometheus has no alert %s (are the shipped rule files loaded?)", d.Fault, d.Alert))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func runOne(ctx context.Context, cfg Config, d Drill) Result {
	return runOneLocked(ctx, cfg, d, &sync.Mutex{})
}

func runOneLocked(ctx context.Context, cfg Config, d Drill, fileMu *sync.Mutex) (r Result) {
	r = Result{Fault: d.Fault, Variant: d.Variant, Kind: d.Kind, Alert: d.Alert, Labels: labelText(d.Labels)}
	logf := func(format string, args ...any) {
		fmt.Fprintf(cfg.Log, "%s %-24s %s\n", time.Now().Format("15:04:05"), d.Fault, fmt.Sprintf(format, args...))
	}
	b := cfg.Backends

	// An alert firing already proves nothing: wait for it to clear first.
	if err := waitAlert(ctx, cfg, d, false, cfg.ResolveTimeout); err != nil {
		r.Problem = "the alert was active before the fault: " + err.Error()
		logf("%s", r.Problem)
		return r
	}
	if d.MinUptime > 0 {
		if err := waitUptime(ctx, cfg, d, logf); err != nil {
			r.Problem = err.Error()
			logf("%s", r.Problem)
			return r
		}
	}
	var restore func() error
	if d.Target != nil {
		var err error
		fileMu.Lock()
		restore, err = target(ctx, cfg, d)
		fileMu.Unlock()
		if err != nil {
			r.Problem = "targeting: " + err.Error()
			return r
		}
	}
	fileMu.Lock()
	_, err := flags.SetVariant(cfg.FlagsFile, cfg.Known, d.Fault, d.Variant)
	fileMu.Unlock()
	if err != nil {
		r.Problem = err.Error()
		return r
	}
	on := time.Now()
	logf("on (%s); waiting for %s{%s}", d.Variant, d.Alert, r.Labels)
	off := func() {
		fileMu.Lock()
		defer fileMu.Unlock()
		if _, err := flags.SetVariant(cfg.FlagsFile, cfg.Known, d.Fault, flags.Off); err != nil {
			logf("could not turn the fault off: %v", err)
		}
		if restore != nil {
			if err := restore(); err != nil {
				logf("could not restore the targeting rule: %v", err)
			}
		}
	}
	offDone := false
	defer func() {
		if !offDone {
			off()
		}
	}()

	if err := waitAlert(ctx, cfg, d, true, cfg.DetectTimeout); err != nil {
		r.Problem = "not detected: " + err.Error()
		logf("%s", r.Problem)
	} else {
		r.Detected, r.TimeToDetect = true, Duration(time.Since(on))
		logf("detected after %s", time.Duration(r.TimeToDetect).Round(time.Second))
	}

	fired := time.Now()
	deadline := fired.Add(cfg.ExplainTimeout)
	var lastErr error
	for {
		found, err := d.Evidence.Find(ctx, b, on, time.Now())
		if err == nil {
			r.Explained, r.Evidence, r.TimeToExplain = true, found, Duration(time.Since(fired))
			logf("explained: %s", found)
			break
		}
		lastErr = err
		if time.Now().After(deadline) || ctx.Err() != nil {
			r.Problem = strings.TrimPrefix(r.Problem+"; ", "; ") + "not explained: " + lastErr.Error()
			logf("not explained: %v", lastErr)
			break
		}
		_ = service.Sleep(ctx, cfg.Poll)
	}

	off()
	offDone = true
	if !cfg.Resolve || !r.Detected {
		return r
	}
	offAt := time.Now()
	logf("off; waiting for %s to clear", d.Alert)
	if err := waitAlert(ctx, cfg, d, false, cfg.ResolveTimeout); err != nil {
		r.Problem = strings.TrimPrefix(r.Problem+"; ", "; ") + "not resolved: " + err.Error()
		logf("not resolved: %v", err)
		return r
	}
	r.Resolved, r.TimeToResolve = true, Duration(time.Since(offAt))
	logf("resolved after %s", time.Duration(r.TimeToResolve).Round(time.Second))
	return r
}

// waitAlert waits until the drill's alert fires (firing true) or is neither
// firing nor pending (firing false).
func waitAlert(ctx context.Context, cfg Config, d Drill, firing bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		alerts, err := cfg.Backends.alerts(ctx)
		if err == nil {
			state := ""
			for _, a := range alerts {
				if a.Labels["alertname"] == d.Alert && matches(a.Labels, d.Labels) && (state == "" || a.State == "firing") {
					state = a.State
				}
			}
			if firing && state == "firing" || !firing && state == "" {
				return nil
			}
			lastErr = fmt.Errorf("%s{%s} is %s after %s", d.Alert, labelText(d.Labels), orInactive(state), timeout)
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			return lastErr
		}
		if service.Sleep(ctx, cfg.Poll) != nil {
			return ctx.Err()
		}
	}
}

// waitUptime waits until every process of the drill's service has run
// d.MinUptime, for at most that long and a minute more.
func waitUptime(ctx context.Context, cfg Config, d Drill, logf func(string, ...any)) error {
	svc := d.Labels["service_name"]
	deadline := time.Now().Add(d.MinUptime + time.Minute)
	logged := false
	for {
		uptime, ok, err := cfg.Backends.youngestUptime(ctx, svc)
		if err == nil && ok && uptime >= d.MinUptime {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s's processes are not %s old after waiting %s (youngest %s, %v)", svc, d.MinUptime, d.MinUptime+time.Minute, uptime.Round(time.Second), err)
		}
		if !logged && ok {
			logf("waiting for %s's processes to be %s old (%s's alert ignores younger ones): youngest %s", svc, d.MinUptime, d.Alert, uptime.Round(time.Second))
			logged = true
		}
		if service.Sleep(ctx, cfg.Poll) != nil {
			return ctx.Err()
		}
	}
}

func orInactive(s string) string {
	if s == "" {
		return "inactive"
	}
	return s
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func labelText(l map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, l[k]))
	}
	return strings.Join(parts, ", ")
}
