// Package compare puts the shop's own flag provider and the flagd provider (in
// in-process file mode) through the same checks of what issue 9 asks of a flag
// provider: our object variants and targeting evaluated, a change to the file
// in effect within 2 s (by atomic rename, as `shop flags set` writes it, or in
// place), and a bad or missing file keeping the last good flags.
package compare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/tools/flagdcompare/internal/flagdprov"
	"github.com/otelshop/shop/tools/flagdcompare/internal/ownprov"
	"github.com/otelshop/shop/tools/flagdcompare/internal/scenario"
)

// Deadline is the bound on a change to the file taking effect.
const Deadline = 2 * time.Second

// Provider starts one provider on a flag file.
type Provider struct {
	Name  string
	Start func(ctx context.Context, path string) (client *openfeature.Client, stop func(), err error)
}

// Own is the shop's provider, internal/flags, knowing the flags of the file at
// shipped (as the shop knows its faults whatever the file says).
func Own(shipped string) Provider {
	return Provider{Name: "own", Start: func(ctx context.Context, path string) (*openfeature.Client, func(), error) {
		known, err := ownprov.Known(shipped)
		if err != nil {
			return nil, nil, err
		}
		ctx, cancel := context.WithCancel(ctx)
		set, err := ownprov.StartKnown(ctx, path, known)
		if err != nil {
			cancel()
			return nil, nil, err
		}
		return set.Client(), cancel, nil
	}}
}

// Flagd is the flagd provider in in-process file mode.
func Flagd() Provider {
	return Provider{Name: "flagd", Start: func(ctx context.Context, path string) (*openfeature.Client, func(), error) {
		c, stop, err := flagdprov.Start(ctx, path)
		if err != nil {
			return nil, nil, err
		}
		return c, func() { stop(context.WithoutCancel(ctx)) }, nil
	}}
}

// Outcome is a check's result for one provider, with what was seen.
type Outcome struct {
	Check  string
	Pass   bool
	Detail string
}

// Check is one property, run on a fresh copy of the shipped file.
type Check struct {
	Name string
	Run  func(ctx context.Context, p Provider, path string) (pass bool, detail string)
}

var (
	targeted = scenario.Case{Flag: scenario.TargetedFlag, ProductID: scenario.TargetedProduct}
	other    = scenario.Case{Flag: scenario.TargetedFlag, ProductID: scenario.OtherProduct}
	offFlag  = scenario.Case{Flag: scenario.OffFlag, ProductID: scenario.OtherProduct}
)

func isOn(r scenario.Result) bool {
	return r.Variant == scenario.TargetedVariant && r.Value == `{"share":1}` && r.Error == ""
}
func isOff(r scenario.Result) bool { return r.Variant == flags.Off && r.Value == "{}" && r.Error == "" }

// Checks are the properties compared.
func Checks() []Check {
	return []Check{
		{"evaluates object variants and targeting", checkEvaluates},
		{"atomic rename (`shop flags set`), 5 on/off toggles", checkRename},
		{"in-place rewrite (truncate + write)", checkInPlace},
		{"malformed file keeps last good flags", checkMalformed},
		{"another flag's bad defaultVariant keeps last good flags", checkBadDefault},
		{"a fault value of the wrong type is refused", checkBadValue},
		{"file deleted keeps last good flags, then returns", checkDeleted},
		{"file missing at start, then created", checkMissingAtStart},
	}
}

// RunAll runs every check for p, each on a copy of shipped in a directory of its own.
func RunAll(ctx context.Context, p Provider, shipped string) []Outcome {
	var out []Outcome
	for _, c := range Checks() {
		out = append(out, RunOne(ctx, p, c, shipped))
	}
	return out
}

// RunOne runs one check for p on a copy of shipped.
func RunOne(ctx context.Context, p Provider, c Check, shipped string) Outcome {
	pass, detail := runOne(ctx, p, c, shipped)
	return Outcome{Check: c.Name, Pass: pass, Detail: detail}
}

func runOne(ctx context.Context, p Provider, c Check, shipped string) (bool, string) {
	dir, err := os.MkdirTemp("", "flagdcompare-")
	if err != nil {
		return false, err.Error()
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "shop.flags.json")
	data, err := os.ReadFile(shipped)
	if err == nil {
		err = os.WriteFile(path, data, 0o644)
	}
	if err != nil {
		return false, err.Error()
	}
	return c.Run(ctx, p, path)
}

// PrepareOn copies shipped to dir with the targeted flag switched on the way
// `shop flags set` does it, and returns the copy's path.
func PrepareOn(shipped, dir string) (string, error) {
	path := filepath.Join(dir, "shop.flags.json")
	data, err := os.ReadFile(shipped)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", err
	}
	return path, setVariant(path, scenario.TargetedFlag, scenario.TargetedVariant)
}

// setVariant is `shop flags set`: internal/flags' atomic rewrite.
func setVariant(path, flag, variant string) error {
	known, err := ownprov.Known(path)
	if err != nil {
		return err
	}
	_, err = flags.SetVariant(path, known, flag, variant)
	return err
}

// edited returns the file at path with edit applied to its decoded flags.
func edited(path string, edit func(flags map[string]any)) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return edited2(data, edit)
}

// edited2 is edited on a file's content.
func edited2(data []byte, edit func(flags map[string]any)) ([]byte, error) {
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	fl, _ := f["flags"].(map[string]any)
	if fl == nil {
		return nil, errors.New("no flags object")
	}
	edit(fl)
	return json.MarshalIndent(f, "", "\t")
}

func flagOf(fl map[string]any, key string) map[string]any { m, _ := fl[key].(map[string]any); return m }

// atomicWrite replaces path by renaming a file written beside it, as
// internal/flags' editor does.
func atomicWrite(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err = errors.Join(err, tmp.Close()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// waitFor polls until cond holds for the case, or Deadline passes.
func waitFor(ctx context.Context, c *openfeature.Client, cs scenario.Case, cond func(scenario.Result) bool) (time.Duration, scenario.Result, bool) {
	start := time.Now()
	for {
		r := scenario.Evaluate(ctx, c, cs)
		if cond(r) {
			return time.Since(start), r, true
		}
		if time.Since(start) > Deadline {
			return time.Since(start), r, false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// holds polls for Deadline and reports the first evaluation for which cond did
// not hold: a file the provider must refuse has had the time a good one gets.
func holds(ctx context.Context, c *openfeature.Client, cs scenario.Case, cond func(scenario.Result) bool) (time.Duration, scenario.Result, bool) {
	start := time.Now()
	var r scenario.Result
	for time.Since(start) <= Deadline {
		r = scenario.Evaluate(ctx, c, cs)
		if !cond(r) {
			return time.Since(start), r, false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start), r, true
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

// started starts p, after prepare (if any) has changed the file.
func started(ctx context.Context, p Provider, path string, on bool) (*openfeature.Client, func(), error) {
	if on {
		if err := setVariant(path, scenario.TargetedFlag, scenario.TargetedVariant); err != nil {
			return nil, nil, err
		}
	}
	return p.Start(ctx, path)
}

func checkEvaluates(ctx context.Context, p Provider, path string) (bool, string) {
	c, stop, err := started(ctx, p, path, true)
	if err != nil {
		return false, "start: " + err.Error()
	}
	defer stop()
	rs := []scenario.Result{scenario.Evaluate(ctx, c, offFlag), scenario.Evaluate(ctx, c, targeted), scenario.Evaluate(ctx, c, other)}
	detail := fmt.Sprintf("%s: %s; %s@%s: %s; %s@%s: %s", offFlag.Flag, rs[0], targeted.Flag, targeted.ProductID, rs[1],
		other.Flag, other.ProductID, rs[2])
	return isOff(rs[0]) && isOn(rs[1]) && isOff(rs[2]), detail
}

func checkRename(ctx context.Context, p Provider, path string) (bool, string) {
	c, stop, err := started(ctx, p, path, false)
	if err != nil {
		return false, "start: " + err.Error()
	}
	defer stop()
	var slowest time.Duration
	for i := 1; i <= 5; i++ {
		for _, step := range []struct {
			variant string
			cond    func(scenario.Result) bool
		}{{scenario.TargetedVariant, isOn}, {flags.Off, isOff}} {
			if err := setVariant(path, scenario.TargetedFlag, step.variant); err != nil {
				return false, err.Error()
			}
			took, r, ok := waitFor(ctx, c, targeted, step.cond)
			if !ok {
				return false, fmt.Sprintf("toggle %d to %s: still %s after %s", i, step.variant, r, ms(took))
			}
			slowest = max(slowest, took)
		}
	}
	return true, "every change seen, slowest after " + ms(slowest)
}

func checkInPlace(ctx context.Context, p Provider, path string) (bool, string) {
	c, stop, err := started(ctx, p, path, false)
	if err != nil {
		return false, "start: " + err.Error()
	}
	defer stop()
	data, err := edited(path, func(fl map[string]any) {
		flagOf(fl, scenario.TargetedFlag)["defaultVariant"] = scenario.TargetedVariant
	})
	if err == nil {
		err = os.WriteFile(path, data, 0o644)
	}
	if err != nil {
		return false, err.Error()
	}
	took, r, ok := waitFor(ctx, c, targeted, isOn)
	if !ok {
		return false, fmt.Sprintf("still %s after %s", r, ms(took))
	}
	return true, "seen after " + ms(took)
}

// refusedKeepsOn switches the targeted flag on, replaces the file with bad, and
// says whether the flag stayed on for Deadline.
func refusedKeepsOn(ctx context.Context, p Provider, path string, bad func([]byte) ([]byte, error), keep func(scenario.Result) bool) (bool, string) {
	c, stop, err := started(ctx, p, path, true)
	if err != nil {
		return false, "start: " + err.Error()
	}
	defer stop()
	good, err := os.ReadFile(path)
	if err != nil {
		return false, err.Error()
	}
	data, err := bad(good)
	if err == nil {
		err = atomicWrite(path, data)
	}
	if err != nil {
		return false, err.Error()
	}
	at, r, ok := holds(ctx, c, targeted, keep)
	if !ok {
		return false, fmt.Sprintf("last good lost after %s: %s", ms(at), r)
	}
	return true, fmt.Sprintf("still %s after %s", r, ms(at))
}

func checkMalformed(ctx context.Context, p Provider, path string) (bool, string) {
	pass, detail := refusedKeepsOn(ctx, p, path, func(good []byte) ([]byte, error) { return good[:len(good)/2], nil }, isOn)
	return pass, "half the file written: " + detail
}

func checkBadDefault(ctx context.Context, p Provider, path string) (bool, string) {
	pass, detail := refusedKeepsOn(ctx, p, path, func([]byte) ([]byte, error) {
		return edited(path, func(fl map[string]any) { flagOf(fl, scenario.OffFlag)["defaultVariant"] = "nope" })
	}, isOn)
	return pass, scenario.OffFlag + `.defaultVariant "nope": ` + detail
}

func checkBadValue(ctx context.Context, p Provider, path string) (bool, string) {
	pass, detail := refusedKeepsOn(ctx, p, path, func([]byte) ([]byte, error) {
		return edited(path, func(fl map[string]any) {
			flagOf(flagOf(fl, scenario.TargetedFlag), "variants")[scenario.TargetedVariant] = map[string]any{"share": "lots"}
		})
	}, isOn)
	return pass, `variant on = {"share":"lots"}: ` + detail
}

func checkDeleted(ctx context.Context, p Provider, path string) (bool, string) {
	c, stop, err := started(ctx, p, path, true)
	if err != nil {
		return false, "start: " + err.Error()
	}
	defer stop()
	good, err := os.ReadFile(path)
	if err == nil {
		err = os.Remove(path)
	}
	if err != nil {
		return false, err.Error()
	}
	at, r, kept := holds(ctx, c, targeted, isOn)
	detail := fmt.Sprintf("deleted: still %s after %s", r, ms(at))
	if !kept {
		detail = fmt.Sprintf("deleted: last good lost after %s: %s", ms(at), r)
	}
	// Back, with the off flag switched on too, so the reload is visible whatever
	// happened to the targeted one.
	back, err := edited2(good, func(fl map[string]any) { flagOf(fl, scenario.OffFlag)["defaultVariant"] = "on" })
	if err == nil {
		err = atomicWrite(path, back)
	}
	if err != nil {
		return false, err.Error()
	}
	took, r, ok := waitFor(ctx, c, offFlag, func(r scenario.Result) bool { return r.Variant == "on" })
	if !ok {
		return false, fmt.Sprintf("%s; recreated: still %s after %s", detail, r, ms(took))
	}
	return kept, fmt.Sprintf("%s; recreated: seen after %s", detail, ms(took))
}

func checkMissingAtStart(ctx context.Context, p Provider, path string) (bool, string) {
	good, err := os.ReadFile(path)
	if err != nil {
		return false, err.Error()
	}
	if err := os.Remove(path); err != nil {
		return false, err.Error()
	}
	c, stop, err := p.Start(ctx, path)
	if err != nil {
		return false, "start fails: " + oneLine(err.Error())
	}
	defer stop()
	before := scenario.Evaluate(ctx, c, targeted)
	if err := atomicWrite(path, good); err != nil {
		return false, err.Error()
	}
	if err := setVariant(path, scenario.TargetedFlag, scenario.TargetedVariant); err != nil {
		return false, err.Error()
	}
	took, r, ok := waitFor(ctx, c, targeted, isOn)
	if !ok {
		return false, fmt.Sprintf("started (%s); file created, still %s after %s", before, r, ms(took))
	}
	return true, fmt.Sprintf("started (%s); file created, on after %s", before, ms(took))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
