package flags

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/diegoholiveira/jsonlogic/v3"
)

// Off is the variant every fault flag has, whose value changes nothing; the
// shipped file sets every flag to it.
const Off = "off"

// The states flagd knows. A disabled flag evaluates to the caller's default, which
// for every fault is Off.
const (
	Enabled  = "ENABLED"
	Disabled = "DISABLED"
)

// File is a flag-definition file in flagd's format
// (https://flagd.dev/reference/flag-definitions/), the one the OpenTelemetry Demo
// uses. Only what the shop evaluates is accepted; anything else is an error, so a
// typo cannot become a flag that silently does nothing.
type File struct {
	Schema   string          `json:"$schema,omitempty"`
	Flags    map[string]Flag `json:"flags"`
	Metadata map[string]any  `json:"metadata,omitempty"`
}

// Flag is one flag of a File. Its fields are in the order Encode writes them
// (alphabetical, as in the shipped file).
type Flag struct {
	DefaultVariant string         `json:"defaultVariant"`
	Metadata       map[string]any `json:"metadata,omitempty"`
	State          string         `json:"state"`
	// Targeting is a JSONLogic rule over the evaluation context; it returns a
	// variant name, or null for DefaultVariant.
	Targeting json.RawMessage            `json:"targeting,omitempty"`
	Variants  map[string]json.RawMessage `json:"variants"`
}

// Value is what a variant of a fault flag holds.
type Value struct {
	// Share is the fraction of evaluations the fault hits, in (0, 1]; 0 is off.
	Share float64 `json:"share,omitempty"`
	// Delay is the latency the fault adds, where it adds latency.
	Delay Duration `json:"delay,omitempty"`
	// Amount is the fault's size in the unit its Spec names (KiB leaked per
	// request, connections held, …), where it has one.
	Amount int `json:"amount,omitempty"`
}

// IsOff says the value changes nothing.
func (v Value) IsOff() bool { return v.Share == 0 }

// Duration is a time.Duration written as Go writes it ("250ms") in the file.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "250ms", "1.5s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"250ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Limits a variant's value must stay within: a fault is a drill, not a weapon.
const (
	maxDelay  = 30 * time.Second
	maxAmount = 1 << 20
)

// ParseFile decodes a flag file strictly: unknown fields are refused.
func ParseFile(data []byte) (File, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return File{}, fmt.Errorf("not a flag file: %w", err)
	}
	if dec.More() {
		return File{}, errors.New("not a flag file: data after the JSON object")
	}
	if f.Flags == nil {
		return File{}, errors.New(`not a flag file: no "flags" object`)
	}
	return f, nil
}

// Encode writes f the way the shipped file is written (sorted keys, tab
// indentation, a final newline), so set-then-reset leaves the file as it was.
func (f File) Encode() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "\t")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// compiled is a flag ready to evaluate.
type compiled struct {
	key            string
	enabled        bool
	defaultVariant string
	variants       map[string]Value
	targeting      any // the decoded JSONLogic rule; nil when there is none
	// inert says no evaluation can return anything but an off value: the flag is
	// disabled, or every variant its default and its rule can name is off.
	inert bool
}

// compile checks f against the flags the shop knows and prepares each for
// evaluation. Every problem is reported, each naming its flag, so one error
// message says everything that is wrong with a file.
func compile(f File, known map[string]Spec) (map[string]*compiled, error) {
	var errs []error
	out := make(map[string]*compiled, len(f.Flags))
	for _, key := range slices.Sorted(maps.Keys(f.Flags)) {
		c, err := compileFlag(key, f.Flags[key], known)
		if err != nil {
			errs = append(errs, fmt.Errorf("flag %q: %w", key, err))
			continue
		}
		out[key] = c
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func compileFlag(key string, fl Flag, known map[string]Spec) (*compiled, error) {
	spec, ok := known[key]
	if !ok {
		return nil, fmt.Errorf("no service knows this flag (known: %s)", strings.Join(slices.Sorted(maps.Keys(known)), ", "))
	}
	c := &compiled{key: key, defaultVariant: fl.DefaultVariant, variants: map[string]Value{}}
	switch fl.State {
	case Enabled:
		c.enabled = true
	case Disabled:
	default:
		return nil, fmt.Errorf("state %q is neither %s nor %s", fl.State, Enabled, Disabled)
	}
	for name, raw := range fl.Variants {
		v, err := decodeValue(raw)
		if err != nil {
			return nil, fmt.Errorf("variant %q: %w", name, err)
		}
		if err := spec.check(name, v); err != nil {
			return nil, fmt.Errorf("variant %q: %w", name, err)
		}
		c.variants[name] = v
	}
	if v, ok := c.variants[Off]; !ok || !v.IsOff() {
		return nil, fmt.Errorf("needs a variant %q whose value is {}", Off)
	}
	if _, ok := c.variants[fl.DefaultVariant]; !ok {
		return nil, fmt.Errorf("defaultVariant %q is not one of its variants (%s)", fl.DefaultVariant, variantList(c.variants))
	}
	possible := []string{fl.DefaultVariant}
	if len(bytes.TrimSpace(fl.Targeting)) > 0 && !bytes.Equal(bytes.TrimSpace(fl.Targeting), []byte("{}")) {
		var rule any
		if err := json.Unmarshal(fl.Targeting, &rule); err != nil {
			return nil, fmt.Errorf("targeting: %w", err)
		}
		if !jsonlogic.ValidateJsonLogic(rule) {
			return nil, errors.New("targeting is not a JSONLogic rule")
		}
		c.targeting = rule
		if names, ok := ruleResults(rule); ok {
			possible = append(possible, names...)
		} else {
			possible = slices.Collect(maps.Keys(c.variants))
		}
	}
	c.inert = !c.enabled
	if c.enabled {
		c.inert = true
		for _, name := range possible {
			if !c.variants[name].IsOff() {
				c.inert = false
			}
		}
	}
	return c, nil
}

func decodeValue(raw json.RawMessage) (Value, error) {
	var v Value
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return Value{}, fmt.Errorf(`a fault variant is an object such as {"share": 0.5, "delay": "250ms"}: %w`, err)
	}
	switch {
	case v.Share < 0 || v.Share > 1:
		return Value{}, fmt.Errorf("share %v is not in [0, 1]", v.Share)
	case v.Delay < 0 || time.Duration(v.Delay) > maxDelay:
		return Value{}, fmt.Errorf("delay %s is not in [0, %s]", time.Duration(v.Delay), maxDelay)
	case v.Amount < 0 || v.Amount > maxAmount:
		return Value{}, fmt.Errorf("amount %d is not in [0, %d]", v.Amount, maxAmount)
	case v.Share == 0 && (v.Delay != 0 || v.Amount != 0):
		return Value{}, errors.New("share is 0, so its delay and amount would never apply")
	}
	return v, nil
}

// ruleResults returns the variants a rule can return, and false when it cannot
// tell: only a rule whose every result is a literal (a string or null, possibly
// through nested "if"s) is read; anything else ({"var": …} as a result, "cat",
// "or" of values …) could name any variant, so every variant is possible. The
// conditions may be anything: they only choose among the literals.
func ruleResults(rule any) ([]string, bool) {
	switch r := rule.(type) {
	case nil:
		return nil, true
	case string:
		return []string{r}, true
	case map[string]any:
		args, ok := r["if"].([]any)
		if len(r) != 1 || !ok {
			return nil, false
		}
		var out []string
		for i, arg := range args {
			if i%2 == 0 && i != len(args)-1 {
				continue // a condition
			}
			names, ok := ruleResults(arg)
			if !ok {
				return nil, false
			}
			out = append(out, names...)
		}
		return out, true
	default:
		return nil, false
	}
}

func variantList(variants map[string]Value) string {
	return strings.Join(slices.Sorted(maps.Keys(variants)), ", ")
}
