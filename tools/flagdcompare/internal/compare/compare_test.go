package compare_test

import (
	"context"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/tools/flagdcompare/internal/compare"
	"github.com/otelshop/shop/tools/flagdcompare/internal/ownprov"
	"github.com/otelshop/shop/tools/flagdcompare/internal/scenario"
)

// shipped is the shop's flag file, relative to this package.
const shipped = "../../../../deploy/flags/shop.flags.json"

func start(tb testing.TB, p compare.Provider, path string) *openfeature.Client {
	tb.Helper()
	c, stop, err := p.Start(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stop)
	return c
}

// The comparison means something only if both providers read our file alike:
// same variant, reason and value for every case, and the values the file says.
func TestProvidersAgree(t *testing.T) {
	path, err := compare.PrepareOn(shipped, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	own, fd := start(t, compare.Own(shipped), path), start(t, compare.Flagd(), path)
	want := map[scenario.Case]string{
		{Flag: scenario.OffFlag, ProductID: scenario.OtherProduct}:         `variant="off" reason=STATIC value={}`,
		{Flag: scenario.TargetedFlag, ProductID: scenario.TargetedProduct}: `variant="on" reason=DEFAULT value={"share":1}`,
		{Flag: scenario.TargetedFlag, ProductID: scenario.OtherProduct}:    `variant="off" reason=TARGETING_MATCH value={}`,
	}
	for _, cs := range scenario.Cases {
		ctx := context.Background()
		o, f := scenario.Evaluate(ctx, own, cs), scenario.Evaluate(ctx, fd, cs)
		if o.String() != want[cs] || f.String() != want[cs] {
			t.Errorf("%s for %s: own %s, flagd %s; want %s", cs.Flag, cs.ProductID, o, f, want[cs])
		}
	}
}

// The own provider must have every property the checks look for; the checks
// themselves are thereby seen to pass when they should.
func TestOwnProviderPassesEveryCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("about 10 s of reload windows")
	}
	for _, o := range compare.RunAll(context.Background(), compare.Own(shipped), shipped) {
		if !o.Pass {
			t.Errorf("%s: %s", o.Check, o.Detail)
		}
	}
}

// ... and they fail when they should: flagd serves a fault value of the wrong
// type as it is, which internal/flags refuses.
func TestBadValueCheckFailsForFlagd(t *testing.T) {
	for _, c := range compare.Checks() {
		if c.Name != "a fault value of the wrong type is refused" {
			continue
		}
		if o := compare.RunOne(context.Background(), compare.Flagd(), c, shipped); o.Pass {
			t.Errorf("flagd passed: %s", o.Detail)
		}
		return
	}
	t.Fatal("no such check")
}

var sink flags.Value

// Evaluation cost, through the OpenFeature client for both providers (the same
// call, the same evaluation context), and through internal/flags' Fault handle
// as the services call it.
func BenchmarkEval(b *testing.B) {
	path, err := compare.PrepareOn(shipped, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	known, err := ownprov.Known(shipped)
	if err != nil {
		b.Fatal(err)
	}
	set, err := ownprov.StartKnown(ctx, path, known)
	if err != nil {
		b.Fatal(err)
	}
	clients := []struct {
		name string
		c    *openfeature.Client
	}{{"own", set.Client()}, {"flagd", start(b, compare.Flagd(), path)}}
	for _, tc := range []struct {
		name, flag, product, variant string
	}{
		{"off-flag", scenario.OffFlag, scenario.OtherProduct, flags.Off},
		{"targeted-on-flag", scenario.TargetedFlag, scenario.TargetedProduct, scenario.TargetedVariant},
	} {
		for _, cl := range clients {
			b.Run(tc.name+"/"+cl.name+"-client", func(b *testing.B) {
				evalCtx := scenario.Context(tc.product)
				var def any = flags.Value{}
				b.ReportAllocs()
				for b.Loop() {
					d, err := cl.c.ObjectValueDetails(ctx, tc.flag, def, evalCtx)
					if err != nil || d.Variant != tc.variant {
						b.Fatalf("%s: variant %q, %v", tc.flag, d.Variant, err)
					}
				}
			})
		}
		b.Run(tc.name+"/own-Fault.Eval", func(b *testing.B) {
			f := set.Fault(tc.flag)
			subject := flags.Subject{ProductID: tc.product}
			b.ReportAllocs()
			for b.Loop() {
				v, on := f.Eval(ctx, subject)
				if on != (tc.variant != flags.Off) {
					b.Fatalf("%s: on=%v", tc.flag, on)
				}
				sink = v
			}
		})
	}
}
