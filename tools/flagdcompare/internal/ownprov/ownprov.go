// Package ownprov starts the shop's own flag provider (internal/flags) on a flag
// file, for the measurement programs.
package ownprov

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/otelshop/shop/internal/flags"
)

// Start starts internal/flags on path with its default poll interval. A
// measurement has no services to declare faults, so every flag the file holds
// is declared, needing the value fields its variants use (internal/flags refuses
// a file naming a flag nobody declared).
func Start(ctx context.Context, path string) (*flags.Set, error) {
	known, err := Known(path)
	if err != nil {
		return nil, err
	}
	return StartKnown(ctx, path, known)
}

// StartKnown starts internal/flags on path with the flags known declared.
func StartKnown(ctx context.Context, path string, known []flags.Spec) (*flags.Set, error) {
	return flags.Start(ctx, flags.Config{Path: path, Known: known})
}

// Known declares the flags of the file at path.
func Known(path string) ([]flags.Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := flags.ParseFile(data)
	if err != nil {
		return nil, err
	}
	var out []flags.Spec
	for key, fl := range f.Flags {
		spec := flags.Spec{Key: key, Service: "flagdcompare"}
		for name, raw := range fl.Variants {
			var fields map[string]any
			if err := json.Unmarshal(raw, &fields); err != nil {
				return nil, fmt.Errorf("flag %s variant %s: %w", key, name, err)
			}
			if _, ok := fields["delay"]; ok {
				spec.Needs |= flags.NeedDelay
			}
			if _, ok := fields["amount"]; ok {
				spec.Needs |= flags.NeedAmount
			}
		}
		out = append(out, spec)
	}
	return out, nil
}
