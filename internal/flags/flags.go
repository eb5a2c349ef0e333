// Package flags is how the shop's services switch faults on: feature flags in
// flagd's flag-definition format, in one file (FLAGS_FILE), evaluated through the
// OpenFeature SDK with a provider of the shop's own that re-reads the file while
// the process runs.
//
// A service declares its faults as Specs (the registry lists them), takes a
// *Fault handle for each at start, and asks it in the code path the fault breaks:
//
//	if v, on := s.slowCharges.Eval(ctx, flags.Subject{CardBrand: brand}); on {
//		time.Sleep(v.Delay.D())
//	}
//
// A handle whose flag cannot be on (disabled, or every variant it can resolve to
// is off) answers from one atomic load, without the SDK: the fault-free path costs
// nothing. Every other evaluation goes through the SDK, and one that changes
// behaviour is recorded on the active span with OpenTelemetry's feature-flag
// conventions.
package flags

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/telemetry"
)

// FileEnv names the flag file every process reads; DefaultFile is used when it is
// unset (relative to the working directory: the repository root in local mode).
const (
	FileEnv     = "FLAGS_FILE"
	DefaultFile = "deploy/flags/shop.flags.json"
	// IntervalEnv sets how often the file is re-read (a Go duration).
	IntervalEnv     = "FLAGS_POLL_INTERVAL"
	DefaultInterval = 500 * time.Millisecond
)

// The feature-flag attributes of OpenTelemetry's semantic conventions.
const (
	attrKey      = attribute.Key("feature_flag.key")
	attrVariant  = attribute.Key("feature_flag.result.variant")
	attrProvider = attribute.Key("feature_flag.provider.name")
	attrReason   = attribute.Key("feature_flag.result.reason")
	eventName    = "feature_flag.evaluation"
)

// Spec is a fault flag as the service that evaluates it declares it.
type Spec struct {
	Key     string
	Service string
	// Summary says what goes wrong while it is on.
	Summary string
	// Needs lists the Value fields the fault reads: each is required on every
	// variant but off, and the others are refused, so no variant is a no-op.
	Needs Needs
	// AmountUnit names what Value.Amount counts, when Needs has NeedAmount.
	AmountUnit string
}

// Needs is a set of Value fields.
type Needs uint8

// The fields a fault can read besides Share.
const (
	NeedDelay Needs = 1 << iota
	NeedAmount
)

func (s Spec) check(variant string, v Value) error {
	if v.IsOff() {
		return nil
	}
	for _, f := range []struct {
		need Needs
		name string
		set  bool
	}{{NeedDelay, "delay", v.Delay != 0}, {NeedAmount, "amount", v.Amount != 0}} {
		switch wanted := s.Needs&f.need != 0; {
		case wanted && !f.set:
			return fmt.Errorf("this fault needs a %s", f.name)
		case !wanted && f.set:
			return fmt.Errorf("this fault has no use for a %s", f.name)
		}
	}
	return nil
}

// Subject is what a targeting rule can see about an evaluation: product, card
// brand, country. Nothing about a person.
type Subject struct {
	ProductID string
	CardBrand string
	Country   string
}

func (s Subject) context() openfeature.EvaluationContext {
	attrs := make(map[string]any, 3)
	for k, v := range map[string]string{"productId": s.ProductID, "cardBrand": s.CardBrand, "country": s.Country} {
		if v != "" {
			attrs[k] = v
		}
	}
	return openfeature.NewTargetlessEvaluationContext(attrs)
}

// Config says where the flags come from and what they may name.
type Config struct {
	Path     string
	Interval time.Duration
	Known    []Spec
	// Telemetry receives the reload logs and metrics; nil is silent.
	Telemetry *telemetry.Telemetry
}

// ConfigFromEnv reads FLAGS_FILE and FLAGS_POLL_INTERVAL.
func ConfigFromEnv(getenv func(string) string, known []Spec, tel *telemetry.Telemetry) (Config, error) {
	cfg := Config{Path: getenv(FileEnv), Interval: DefaultInterval, Known: known, Telemetry: tel}
	if cfg.Path == "" {
		cfg.Path = DefaultFile
	}
	if v := getenv(IntervalEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Millisecond || d > time.Minute {
			return Config{}, fmt.Errorf("%s=%q: want a duration between 10ms and 1m", IntervalEnv, v)
		}
		cfg.Interval = d
	}
	return cfg, nil
}

// Set is a process's view of the flag file.
type Set struct {
	path     string
	interval time.Duration
	known    map[string]Spec
	provider *provider
	client   *openfeature.Client
	faults   map[string]*Fault

	logger  *slog.Logger
	changes metric.Int64Counter
	errors  metric.Int64Counter

	mu       sync.Mutex // serialises reloads
	raw      []byte     // the file content last seen, good or bad
	bad      [32]byte   // the bad content last reported, so it is reported once
	badSeen  int        // consecutive reads of the current bad content
	missing  bool       // the file's absence was reported
	loaded   bool
	lastGood map[string]*compiled
}

// Fault is one fault's handle.
type Fault struct {
	key  string
	set  *Set
	live atomic.Bool // the flag can resolve to an on variant
}

// Start reads the flag file and re-reads it every Interval until ctx ends. A
// missing or bad file is logged and counted, never fatal: every fault stays as it
// was (off at start).
func Start(ctx context.Context, cfg Config) (*Set, error) {
	s := &Set{path: cfg.Path, interval: cfg.Interval, known: map[string]Spec{}, provider: newProvider(),
		faults: map[string]*Fault{}, logger: slog.New(slog.DiscardHandler), lastGood: map[string]*compiled{}}
	if s.interval <= 0 {
		s.interval = DefaultInterval
	}
	for _, sp := range cfg.Known {
		if _, dup := s.known[sp.Key]; dup {
			return nil, fmt.Errorf("fault flag %q declared twice", sp.Key)
		}
		s.known[sp.Key] = sp
		s.faults[sp.Key] = &Fault{key: sp.Key, set: s}
	}
	if tel := cfg.Telemetry; tel != nil {
		s.logger = tel.Logger
		meter := tel.Meter("github.com/otelshop/shop/internal/flags")
		s.changes, _ = meter.Int64Counter("shop.feature_flag.changes", metric.WithUnit("{change}"),
			metric.WithDescription("Changes of a fault flag's effective setting seen in the flag file, by flag."))
		s.errors, _ = meter.Int64Counter("shop.feature_flag.file_errors", metric.WithUnit("{error}"),
			metric.WithDescription("Flag files refused (missing, unreadable, malformed or invalid); the last good flags stay in force."))
		_, _ = meter.Int64ObservableGauge("shop.feature_flag.active", metric.WithUnit("{flag}"),
			metric.WithDescription("1 while a fault flag can resolve to a variant that is not off."),
			metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
				for key, f := range s.faults {
					v := int64(0)
					if f.live.Load() {
						v = 1
					}
					o.Observe(v, metric.WithAttributes(attrKey.String(key)))
				}
				return nil
			}))
		for key := range s.known {
			// Every series exists from the start, so the first change is an increase.
			s.changes.Add(ctx, 0, metric.WithAttributes(attrKey.String(key)))
		}
	}
	api := isolated.NewAPI()
	if err := api.SetProviderAndWait(ctx, s.provider); err != nil {
		return nil, fmt.Errorf("flag provider: %w", err)
	}
	s.client = api.NewClient(openfeature.WithDomain("shop"))
	_ = s.Reload(ctx)
	go s.poll(ctx, api)
	return s, nil
}

func (s *Set) poll(ctx context.Context, api *openfeature.EvaluationAPI) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = api.Shutdown(context.WithoutCancel(ctx))
			return
		case <-t.C:
			_ = s.Reload(ctx)
		}
	}
}

// Path is the file the set reads.
func (s *Set) Path() string { return s.path }

// Client is the OpenFeature client the set evaluates through. Services use
// Fault; tools/flagdcompare uses this to time the provider through the same SDK
// call as another provider.
func (s *Set) Client() *openfeature.Client { return s.client }

// Fault returns the handle of a declared fault. A nil Set (a service run without
// flags, as in unit tests) returns a handle that is never on.
func (s *Set) Fault(key string) *Fault {
	if s == nil {
		return &Fault{key: key}
	}
	f, ok := s.faults[key]
	if !ok {
		panic("flags: fault " + key + " is not declared by any service") // a programming error
	}
	return f
}

// Reload reads the file now; the poller calls it every Interval. It returns why
// the file was refused, if it was.
func (s *Set) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := os.ReadFile(s.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if !s.missing {
				s.missing, s.raw = true, nil
				s.refused(ctx, "missing", fmt.Errorf("flag file %s does not exist: every fault stays as it was (off unless the file said otherwise)", s.path))
			}
			return err
		}
		s.refused(ctx, "unreadable", fmt.Errorf("read flag file %s: %w", s.path, err))
		return err
	}
	s.missing = false
	if s.loaded && bytes.Equal(data, s.raw) {
		return nil
	}
	s.raw = data
	f, err := ParseFile(data)
	var flags map[string]*compiled
	if err == nil {
		flags, err = compile(f, s.known)
	}
	if err != nil {
		// A file caught halfway through an editor's write is bad once; report a
		// bad content only when it is still there on the next read.
		sum := sha256.Sum256(data)
		if sum != s.bad {
			s.bad, s.badSeen = sum, 0
		}
		s.badSeen++
		s.raw = nil // read it again next time
		if s.badSeen == 2 {
			s.refused(ctx, "invalid", fmt.Errorf("flag file %s refused, the last good flags stay in force: %w", s.path, err))
		}
		return err
	}
	s.bad, s.badSeen = [32]byte{}, 0
	s.install(ctx, flags)
	return nil
}

func (s *Set) refused(ctx context.Context, kind string, err error) {
	s.logger.ErrorContext(ctx, "feature flags: "+err.Error(), "error.type", kind, "flags.file", s.path)
	if s.errors != nil {
		s.errors.Add(ctx, 1, metric.WithAttributes(attribute.String("error.type", kind)))
	}
}

// install swaps in new flags, flips the handles and reports each flag whose
// effective setting changed.
func (s *Set) install(ctx context.Context, flags map[string]*compiled) {
	var changed []string
	for _, key := range slices.Sorted(maps.Keys(s.known)) {
		old, cur := s.lastGood[key], flags[key]
		if describe(old) == describe(cur) && s.loaded {
			continue
		}
		live := cur != nil && !cur.inert
		s.faults[key].live.Store(live)
		if !s.loaded {
			if live {
				s.logger.WarnContext(ctx, "feature flag on at start: fault "+key+" is "+describe(cur),
					string(attrKey), key, string(attrVariant), cur.defaultVariant)
			}
			continue
		}
		changed = append(changed, key)
		variant := "absent"
		if cur != nil {
			variant = cur.defaultVariant
		}
		s.logger.WarnContext(ctx, "feature flag changed: "+key+" is now "+describe(cur),
			string(attrKey), key, string(attrVariant), variant, "feature_flag.previous", describe(old),
			"feature_flag.active", live)
		if s.changes != nil {
			s.changes.Add(ctx, 1, metric.WithAttributes(attrKey.String(key)))
		}
	}
	s.lastGood, s.loaded = flags, true
	s.provider.swap(flags, changed)
}

// describe is a flag's effective setting in words, for logs and change detection.
func describe(c *compiled) string {
	switch {
	case c == nil:
		return "absent (off)"
	case !c.enabled:
		return "disabled (off)"
	case c.targeting != nil:
		return fmt.Sprintf("variant %s with targeting %s", c.defaultVariant, ruleText(c.targeting))
	default:
		return "variant " + c.defaultVariant
	}
}

// Eval says whether the fault hits this evaluation, and with what value. It is
// nil-safe and, while the flag cannot be on, allocation-free.
func (f *Fault) Eval(ctx context.Context, subject Subject) (Value, bool) {
	if f == nil || !f.live.Load() {
		return Value{}, false
	}
	return f.set.eval(ctx, f.key, subject)
}

// On is Eval without a subject.
func (f *Fault) On(ctx context.Context) (Value, bool) { return f.Eval(ctx, Subject{}) }

// Key is the flag's key.
func (f *Fault) Key() string { return f.key }

func (s *Set) eval(ctx context.Context, key string, subject Subject) (Value, bool) {
	details, err := s.client.ObjectValueDetails(ctx, key, Value{}, subject.context())
	if err != nil {
		return Value{}, false
	}
	v, _ := details.Value.(Value)
	if v.IsOff() || (v.Share < 1 && rand.Float64() >= v.Share) {
		return Value{}, false
	}
	// This evaluation changes what the request does: say so on its span.
	trace.SpanFromContext(ctx).AddEvent(eventName, trace.WithAttributes(
		attrKey.String(key), attrVariant.String(details.Variant), attrProvider.String(ProviderName),
		attrReason.String(strings.ToLower(string(details.Reason)))))
	return v, true
}

// D is the delay as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ruleText is a targeting rule as compact JSON.
func ruleText(rule any) string {
	b, err := json.Marshal(rule)
	if err != nil {
		return fmt.Sprint(rule)
	}
	return string(b)
}
