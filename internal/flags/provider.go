package flags

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/diegoholiveira/jsonlogic/v3"
	"github.com/open-feature/go-sdk/openfeature"
)

// ProviderName is the provider's name on every evaluation record
// (feature_flag.provider.name).
const ProviderName = "shop-flag-file"

// provider is an OpenFeature provider over the last good flag file: it resolves
// object flags (fault values) from an immutable snapshot the watcher swaps in, and
// evaluates targeting rules with JSONLogic as flagd does.
type provider struct {
	current atomic.Pointer[map[string]*compiled]
	events  chan openfeature.Event
}

var (
	_ openfeature.FeatureProvider = (*provider)(nil)
	_ openfeature.EventHandler    = (*provider)(nil)
)

func newProvider() *provider {
	p := &provider{events: make(chan openfeature.Event, 16)}
	empty := map[string]*compiled{}
	p.current.Store(&empty)
	return p
}

func (p *provider) Metadata() openfeature.Metadata { return openfeature.Metadata{Name: ProviderName} }
func (p *provider) Hooks() []openfeature.Hook      { return nil }

// EventChannel tells the SDK when the flags changed.
func (p *provider) EventChannel() <-chan openfeature.Event { return p.events }

// swap installs new flags and announces the keys that changed.
func (p *provider) swap(flags map[string]*compiled, changed []string) {
	p.current.Store(&flags)
	if len(changed) == 0 {
		return
	}
	select {
	case p.events <- openfeature.Event{ProviderName: ProviderName, EventType: openfeature.ProviderConfigChange,
		ProviderEventDetails: openfeature.ProviderEventDetails{Message: "flag file reloaded", FlagChanges: changed}}:
	default: // nobody listening fast enough; the snapshot is what matters
	}
}

func (p *provider) lookup(key string) *compiled { return (*p.current.Load())[key] }

// ObjectEvaluation resolves a fault flag to its Value.
func (p *provider) ObjectEvaluation(_ context.Context, key string, def any, flat openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	c := p.lookup(key)
	if c == nil {
		return openfeature.InterfaceResolutionDetail{Value: def, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
			ResolutionError: openfeature.NewFlagNotFoundResolutionError("no flag " + key + " in the flag file"),
			Reason:          openfeature.ErrorReason}}
	}
	if !c.enabled {
		return openfeature.InterfaceResolutionDetail{Value: def, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
			Reason: openfeature.DisabledReason}}
	}
	variant, reason := c.defaultVariant, openfeature.StaticReason
	if c.targeting != nil {
		name, err := c.target(flat)
		if err != nil {
			return openfeature.InterfaceResolutionDetail{Value: def, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
				ResolutionError: openfeature.NewGeneralResolutionError("targeting: " + err.Error()),
				Reason:          openfeature.ErrorReason}}
		}
		if name != "" {
			variant, reason = name, openfeature.TargetingMatchReason
		} else {
			reason = openfeature.DefaultReason
		}
	}
	return openfeature.InterfaceResolutionDetail{Value: c.variants[variant], ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
		Variant: variant, Reason: reason}}
}

// target runs the flag's rule on the evaluation context (with flagd's $flagd
// properties) and returns the variant it names, or "" for the default.
func (c *compiled) target(flat openfeature.FlattenedContext) (string, error) {
	data := make(map[string]any, len(flat)+1)
	for k, v := range flat {
		data[k] = v
	}
	data["$flagd"] = map[string]any{"flagKey": c.key, "timestamp": time.Now().Unix()}
	out, err := jsonlogic.ApplyInterface(c.targeting, data)
	if err != nil {
		return "", err
	}
	switch out := out.(type) {
	case nil:
		return "", nil
	case string:
		if _, ok := c.variants[out]; !ok {
			return "", fmt.Errorf("the rule returned %q, which is not a variant (%s)", out, variantList(c.variants))
		}
		return out, nil
	default:
		return "", fmt.Errorf("the rule returned %v, not a variant name", out)
	}
}

// The shop's flags are all objects; other types are a caller's mistake.

func (p *provider) BooleanEvaluation(_ context.Context, key string, def bool, _ openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	return openfeature.BoolResolutionDetail{Value: def, ProviderResolutionDetail: mismatch(key)}
}

func (p *provider) StringEvaluation(_ context.Context, key string, def string, _ openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	return openfeature.StringResolutionDetail{Value: def, ProviderResolutionDetail: mismatch(key)}
}

func (p *provider) FloatEvaluation(_ context.Context, key string, def float64, _ openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	return openfeature.FloatResolutionDetail{Value: def, ProviderResolutionDetail: mismatch(key)}
}

func (p *provider) IntEvaluation(_ context.Context, key string, def int64, _ openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	return openfeature.IntResolutionDetail{Value: def, ProviderResolutionDetail: mismatch(key)}
}

func mismatch(key string) openfeature.ProviderResolutionDetail {
	return openfeature.ProviderResolutionDetail{
		ResolutionError: openfeature.NewTypeMismatchResolutionError(key + " is a fault flag: evaluate it as an object"),
		Reason:          openfeature.ErrorReason}
}
