package flags

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// UsageError is a request naming a flag or a variant that does not exist: the
// file is left as it was, and the message lists what does exist.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

// Read loads and checks the flag file at path against the declared faults.
func Read(path string, known []Spec) (File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, err
	}
	f, err := ParseFile(data)
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := compile(f, specMap(known)); err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// SetVariant makes variant the flag's default and enables it.
func SetVariant(path string, known []Spec, flag, variant string) (previous string, err error) {
	f, err := Read(path, known)
	if err != nil {
		return "", err
	}
	fl, ok := f.Flags[flag]
	if !ok {
		return "", &UsageError{fmt.Sprintf("no flag %q; the flags are: %s", flag, strings.Join(slices.Sorted(maps.Keys(f.Flags)), ", "))}
	}
	if _, ok := fl.Variants[variant]; !ok {
		return "", &UsageError{fmt.Sprintf("flag %s has no variant %q; its variants are: %s", flag, variant,
			strings.Join(slices.Sorted(maps.Keys(fl.Variants)), ", "))}
	}
	previous = fl.DefaultVariant
	if fl.State != Enabled {
		previous = Off
	}
	fl.DefaultVariant, fl.State = variant, Enabled
	f.Flags[flag] = fl
	return previous, write(path, f, known)
}

// Reset sets every flag to its off variant.
func Reset(path string, known []Spec) (changed []string, err error) {
	f, err := Read(path, known)
	if err != nil {
		return nil, err
	}
	for _, key := range slices.Sorted(maps.Keys(f.Flags)) {
		fl := f.Flags[key]
		if fl.DefaultVariant != Off {
			changed = append(changed, key+" ("+fl.DefaultVariant+")")
			fl.DefaultVariant = Off
			f.Flags[key] = fl
		}
	}
	return changed, write(path, f, known)
}

// write replaces the file atomically (a temporary file in the same directory,
// renamed over it), so a process reading it sees the old or the new file, never
// half of one. The directory, not the file, is what compose and Kubernetes mount,
// so the rename reaches the containers.
func write(path string, f File, known []Spec) error {
	if _, err := compile(f, specMap(known)); err != nil {
		return err
	}
	data, err := f.Encode()
	if err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone after the rename; cleans up after a failure
	_, err = tmp.Write(data)
	err = errors.Join(err, tmp.Chmod(mode), tmp.Sync(), tmp.Close())
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	return os.Rename(tmp.Name(), path)
}

func specMap(known []Spec) map[string]Spec {
	m := make(map[string]Spec, len(known))
	for _, s := range known {
		m[s.Key] = s
	}
	return m
}

// Status is one flag as the file has it, for listing.
type Status struct {
	Key        string   `json:"key"`
	Service    string   `json:"service"`
	Variant    string   `json:"variant"` // what it resolves to without targeting
	Active     bool     `json:"active"`  // it can resolve to a variant that is not off
	Targeting  string   `json:"targeting,omitempty"`
	Variants   []string `json:"variants"`
	Summary    string   `json:"summary"`
	AmountUnit string   `json:"amount_unit,omitempty"`
}

// List describes every flag of the file.
func List(path string, known []Spec) ([]Status, error) {
	f, err := Read(path, known)
	if err != nil {
		return nil, err
	}
	specs := specMap(known)
	compiled, _ := compile(f, specs) // Read checked it
	var out []Status
	for _, key := range slices.Sorted(maps.Keys(f.Flags)) {
		c, sp := compiled[key], specs[key]
		st := Status{Key: key, Service: sp.Service, Variant: c.defaultVariant, Active: !c.inert,
			Variants: slices.Sorted(maps.Keys(c.variants)), Summary: sp.Summary, AmountUnit: sp.AmountUnit}
		if !c.enabled {
			st.Variant = Off + " (disabled)"
		}
		if c.targeting != nil {
			st.Targeting = ruleText(c.targeting)
		}
		out = append(out, st)
	}
	return out, nil
}

// SetTargeting replaces the flag's targeting rule (nil removes it) and returns
// the previous one, so a caller can put it back.
func SetTargeting(path string, known []Spec, flag string, rule json.RawMessage) (previous json.RawMessage, err error) {
	f, err := Read(path, known)
	if err != nil {
		return nil, err
	}
	fl, ok := f.Flags[flag]
	if !ok {
		return nil, &UsageError{fmt.Sprintf("no flag %q", flag)}
	}
	previous, fl.Targeting = fl.Targeting, rule
	f.Flags[flag] = fl
	return previous, write(path, f, known)
}
