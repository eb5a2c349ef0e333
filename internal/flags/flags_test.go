package flags_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/telemetry"
)

var known = []flags.Spec{
	{Key: "slow", Service: "payments", Needs: flags.NeedDelay, Summary: "slow"},
	{Key: "broken", Service: "catalog", Summary: "broken"},
	{Key: "leak", Service: "cart", Needs: flags.NeedAmount, AmountUnit: "KiB", Summary: "leak"},
}

// file is a valid flag file with every flag off; edit changes it before encoding.
func file(t testing.TB, edit func(map[string]any)) []byte {
	t.Helper()
	flagsObj := map[string]any{
		"slow": map[string]any{"state": "ENABLED", "defaultVariant": "off",
			"variants": map[string]any{"off": map[string]any{}, "half": map[string]any{"share": 0.5, "delay": "1ms"}, "all": map[string]any{"share": 1, "delay": "1ms"}}},
		"broken": map[string]any{"state": "ENABLED", "defaultVariant": "off",
			"variants":  map[string]any{"off": map[string]any{}, "on": map[string]any{"share": 1}},
			"targeting": map[string]any{"if": []any{map[string]any{"in": []any{map[string]any{"var": "productId"}, []any{"SKU-00042"}}}, nil, "off"}}},
		"leak": map[string]any{"state": "DISABLED", "defaultVariant": "on",
			"variants": map[string]any{"off": map[string]any{}, "on": map[string]any{"share": 1, "amount": 64}}},
	}
	doc := map[string]any{"$schema": "https://flagd.dev/schema/v0/flags.json", "flags": flagsObj}
	if edit != nil {
		edit(flagsObj)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func set(flag string, kv ...any) func(map[string]any) {
	return func(m map[string]any) {
		f := m[flag].(map[string]any)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(f, kv[i].(string))
				continue
			}
			f[kv[i].(string)] = kv[i+1]
		}
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// observed is a telemetry whose logs, metrics and spans the test reads.
type observed struct {
	tel    *telemetry.Telemetry
	spans  *tracetest.InMemoryExporter
	reader *sdkmetric.ManualReader
	logs   *syncWriter
}

func (o observed) logText() string {
	o.logs.mu.Lock()
	defer o.logs.mu.Unlock()
	return o.logs.b.String()
}

type discardLogs struct{}

func (discardLogs) Export(context.Context, []sdklog.Record) error { return nil }
func (discardLogs) Shutdown(context.Context) error                { return nil }
func (discardLogs) ForceFlush(context.Context) error              { return nil }

func newObserved(t testing.TB) observed {
	t.Helper()
	o := observed{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader(), logs: &syncWriter{b: &bytes.Buffer{}}}
	var err error
	o.tel, err = telemetry.Start(context.Background(), telemetry.Config{ServiceName: "flags-test",
		SpanExporter: o.spans, MetricReader: o.reader, LogExporter: discardLogs{}, LogOutput: o.logs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.tel.Shutdown(context.Background()) })
	return o
}

// counter sums a counter's points whose attribute key has value (any when "").
func (o observed) counter(t testing.TB, name, key, value string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := o.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if v, ok := p.Attributes.Value(attributeKey(key)); key == "" || ok && v.AsString() == value {
					sum += p.Value
				}
			}
		}
	}
	return sum
}

func start(t testing.TB, path string, tel *telemetry.Telemetry) *flags.Set {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := flags.Start(ctx, flags.Config{Path: path, Interval: 20 * time.Millisecond, Known: known, Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// until polls cond for up to 2 s, the promise the flag file makes: a change takes
// effect in every process within 2 s.
func until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 2 s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFaults_OffByDefault_OnWhenTheFileSaysSo_WithinTwoSeconds(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shop.flags.json")
	writeFile(t, path, file(t, nil))
	o := newObserved(t)
	s := start(t, path, o.tel)
	slow := s.Fault("slow")
	if _, on := slow.On(context.Background()); on {
		t.Fatal("slow is on with every flag off")
	}

	writeFile(t, path, file(t, set("slow", "defaultVariant", "all")))
	until(t, "slow turns on", func() bool { _, on := slow.On(context.Background()); return on })
	v, _ := slow.On(context.Background())
	if v.Delay.D() != time.Millisecond || v.Share != 1 {
		t.Errorf("value = %+v, want share 1 and delay 1ms", v)
	}
	if n := o.counter(t, "shop.feature_flag.changes", "feature_flag.key", "slow"); n != 1 {
		t.Errorf("shop.feature_flag.changes{slow} = %d, want 1", n)
	}
	until(t, "the change is logged", func() bool { return strings.Contains(o.logText(), "feature flag changed: slow is now variant all") })

	writeFile(t, path, file(t, nil))
	until(t, "slow turns off", func() bool { _, on := slow.On(context.Background()); return !on })
}

func TestFaults_BadFile_KeepsLastGood_ReportsOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shop.flags.json")
	writeFile(t, path, file(t, set("slow", "defaultVariant", "all")))
	o := newObserved(t)
	s := start(t, path, o.tel)
	slow := s.Fault("slow")
	if _, on := slow.On(context.Background()); !on {
		t.Fatal("slow is off though the file turns it on")
	}

	for name, bad := range map[string][]byte{
		"malformed":      []byte(`{"flags": {"slow": `),
		"unknown flag":   file(t, func(m map[string]any) { m["typo"] = m["slow"] }),
		"bad share":      file(t, set("slow", "variants", map[string]any{"off": map[string]any{}, "all": map[string]any{"share": 2, "delay": "1ms"}})),
		"unused delay":   file(t, set("broken", "variants", map[string]any{"off": map[string]any{}, "on": map[string]any{"share": 1, "delay": "1s"}})),
		"no off variant": file(t, set("slow", "variants", map[string]any{"all": map[string]any{"share": 1, "delay": "1ms"}}, "defaultVariant", "all")),
		"bad state":      file(t, set("slow", "state", "ON")),
		"bad rule":       file(t, set("broken", "targeting", map[string]any{"no_such_op": []any{1}})),
	} {
		before := o.counter(t, "shop.feature_flag.file_errors", "error.type", "invalid")
		writeFile(t, path, bad)
		until(t, name+": counted", func() bool {
			return o.counter(t, "shop.feature_flag.file_errors", "error.type", "invalid") == before+1
		})
		time.Sleep(100 * time.Millisecond) // five more polls of the same bad file: still one error
		if n := o.counter(t, "shop.feature_flag.file_errors", "error.type", "invalid"); n != before+1 {
			t.Errorf("%s: %d errors counted for one bad file, want 1", name, n-before)
		}
		if _, on := slow.On(context.Background()); !on {
			t.Errorf("%s: the last good flags were dropped", name)
		}
	}
	if !strings.Contains(o.logText(), `flag \"typo\": no service knows this flag`) {
		t.Errorf("the log does not say which flag no service knows:\n%s", o.logText())
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	until(t, "a missing file is counted", func() bool {
		return o.counter(t, "shop.feature_flag.file_errors", "error.type", "missing") == 1
	})
	if _, on := slow.On(context.Background()); !on {
		t.Error("a missing file dropped the last good flags")
	}
}

func TestFaults_Targeting_HitsOnlyTheNamedProduct(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shop.flags.json")
	writeFile(t, path, file(t, set("broken", "defaultVariant", "on")))
	o := newObserved(t)
	broken := start(t, path, o.tel).Fault("broken")
	ctx, span := o.tel.Tracer("test").Start(context.Background(), "GET /v1/products/{id}")
	if _, on := broken.Eval(ctx, flags.Subject{ProductID: "SKU-00001"}); on {
		t.Error("another product is hit")
	}
	if _, on := broken.Eval(ctx, flags.Subject{ProductID: "SKU-00042"}); !on {
		t.Error("the targeted product is not hit")
	}
	span.End()
	if err := o.tel.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := o.spans.GetSpans()
	if len(spans) != 1 || len(spans[0].Events) != 1 {
		t.Fatalf("want one span with one event (the hit only), got %+v", spans)
	}
	ev := spans[0].Events[0]
	attrs := map[string]string{}
	for _, a := range ev.Attributes {
		attrs[string(a.Key)] = a.Value.AsString()
	}
	want := map[string]string{"feature_flag.key": "broken", "feature_flag.result.variant": "on",
		"feature_flag.provider.name": flags.ProviderName, "feature_flag.result.reason": "default"}
	if ev.Name != "feature_flag.evaluation" {
		t.Errorf("event %q, want feature_flag.evaluation", ev.Name)
	}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("event attribute %s = %q, want %q (all: %v)", k, attrs[k], v, attrs)
		}
	}
}

// A rule may name an on variant while the default is off: the flag is live.
func TestFaults_RuleNamingAnOnVariant_IsLive(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shop.flags.json")
	writeFile(t, path, file(t, set("broken", "targeting",
		map[string]any{"if": []any{map[string]any{"==": []any{map[string]any{"var": "productId"}, "SKU-00007"}}, "on", nil}})))
	broken := start(t, path, nil).Fault("broken")
	if _, on := broken.Eval(context.Background(), flags.Subject{ProductID: "SKU-00007"}); !on {
		t.Error("the rule's product is not hit")
	}
	if _, on := broken.Eval(context.Background(), flags.Subject{ProductID: "SKU-00008"}); on {
		t.Error("another product is hit")
	}
}

func TestFaults_DisabledFlag_IsOff(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shop.flags.json")
	writeFile(t, path, file(t, nil)) // leak: DISABLED with defaultVariant on
	leak := start(t, path, nil).Fault("leak")
	if _, on := leak.On(context.Background()); on {
		t.Error("a disabled flag is on")
	}
}

func TestFaults_Share_HitsThatShare(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shop.flags.json")
	writeFile(t, path, file(t, set("slow", "defaultVariant", "half")))
	slow := start(t, path, nil).Fault("slow")
	hits := 0
	const n = 4000
	for range n {
		if _, on := slow.On(context.Background()); on {
			hits++
		}
	}
	// Binomial(4000, 0.5): the standard deviation is about 32; 6 of them is never crossed by chance.
	if hits < n/2-190 || hits > n/2+190 {
		t.Errorf("%d of %d evaluations hit at share 0.5", hits, n)
	}
}

func TestFaults_NilSetAndUndeclaredFault(t *testing.T) {
	var s *flags.Set
	if _, on := s.Fault("anything").On(context.Background()); on {
		t.Error("a fault of no flag set is on")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "shop.flags.json")
	writeFile(t, path, file(t, nil))
	defer func() {
		if recover() == nil {
			t.Error("asking for an undeclared fault did not panic")
		}
	}()
	start(t, path, nil).Fault("undeclared")
}

func TestEdit_SetAndReset_ChangeOnlyTheDefault_RefuseUnknowns(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shop.flags.json")
	f, err := flags.ParseFile(file(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	original, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, original)

	var usage *flags.UsageError
	if _, err := flags.SetVariant(path, known, "nope", "on"); !errors.As(err, &usage) || !strings.Contains(err.Error(), "broken, leak, slow") {
		t.Errorf("unknown flag: %v, want a usage error listing the flags", err)
	}
	if _, err := flags.SetVariant(path, known, "slow", "most"); !errors.As(err, &usage) || !strings.Contains(err.Error(), "all, half, off") {
		t.Errorf("unknown variant: %v, want a usage error listing the variants", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, original) {
		t.Error("a refused change changed the file")
	}

	if prev, err := flags.SetVariant(path, known, "leak", "on"); err != nil || prev != "off" {
		t.Fatalf("set leak on: previous %q, %v", prev, err)
	}
	list, err := flags.List(path, known)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if active := s.Key == "leak"; s.Active != active {
			t.Errorf("%s active = %v, want %v", s.Key, s.Active, active)
		}
	}
	if _, err := flags.Reset(path, known); err != nil {
		t.Fatal(err)
	}
	// leak was DISABLED before; set enabled it, reset leaves it enabled at off.
	after, _ := os.ReadFile(path)
	g, _ := flags.ParseFile(after)
	if g.Flags["leak"].DefaultVariant != flags.Off || g.Flags["slow"].DefaultVariant != flags.Off {
		t.Errorf("after reset: %+v", g.Flags)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// With every flag off, asking a fault in a hot path must cost nothing measurable:
// at most 200 ns and no allocation (the figures are reported, not asserted).
func BenchmarkFault_Off(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "shop.flags.json")
	writeFile(b, path, file(b, nil))
	slow := start(b, path, nil).Fault("slow")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, on := slow.Eval(ctx, flags.Subject{CardBrand: "visa"}); on {
			b.Fatal("on")
		}
	}
}

// An evaluation through the OpenFeature SDK, for a flag that can be on: what
// every request pays while a fault is active.
func BenchmarkFault_OnThroughSDK(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "shop.flags.json")
	writeFile(b, path, file(b, set("broken", "defaultVariant", "on")))
	broken := start(b, path, nil).Fault("broken")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		broken.Eval(ctx, flags.Subject{ProductID: "SKU-00001"})
	}
}

func attributeKey(k string) attribute.Key { return attribute.Key(k) }

// syncWriter lets the test read the log while the poller writes it.
type syncWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
