package flags

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"
)

// FuzzFlagFile feeds arbitrary flag files (and evaluation contexts) through what
// every process does with the file: parse, compile against the known faults,
// evaluate. Beyond "no panic", two properties must hold: a file that compiles
// encodes and parses back to the same bytes (shop flags rewrites it), and a
// flag judged inert, which the services then skip without asking the provider,
// really evaluates to off for every context.
func FuzzFlagFile(f *testing.F) {
	known := specMap([]Spec{
		{Key: "slow", Service: "payments", Needs: NeedDelay},
		{Key: "broken", Service: "catalog"},
		{Key: "leak", Service: "cart", Needs: NeedAmount},
	})
	if shipped, err := os.ReadFile("../../deploy/flags/shop.flags.json"); err == nil {
		f.Add(shipped, "SKU-00042")
	}
	f.Add([]byte(`{"flags":{"broken":{"state":"ENABLED","defaultVariant":"off","variants":{"off":{},"on":{"share":1}},`+
		`"targeting":{"if":[{"in":[{"var":"productId"},["SKU-00042"]]},null,"off"]}}}}`), "SKU-00042")
	f.Add([]byte(`{"flags":{"broken":{"state":"ENABLED","defaultVariant":"off","variants":{"off":{},"on":{"share":1}},`+
		`"targeting":{"if":[true,{"var":"productId"},"off"]}}}}`), "on")
	f.Add([]byte(`{"flags":{"broken":{"state":"ENABLED","defaultVariant":"off","variants":{"off":{},"on":{"share":1}},`+
		`"targeting":{"cat":["o","n"]}}}}`), "")
	f.Add([]byte(`{"flags":{"slow":{"state":"DISABLED","defaultVariant":"x","variants":{"off":{},"x":{"share":0.5,"delay":"1s"}}}}}`), "")
	f.Add([]byte(`{"flags":{"leak":{"state":"ENABLED","defaultVariant":"off","variants":{"off":{},"big":{"share":1,"amount":64}}}}}`), "")
	f.Add([]byte(`{"flags":{}}`), "")
	f.Add([]byte(`{"flags":{"slow":{"state":"ENABLED","defaultVariant":"off","variants":{"off":{},"x":{"share":2}}}}}`), "")

	f.Fuzz(func(t *testing.T, data []byte, product string) {
		file, err := ParseFile(data)
		if err != nil {
			return
		}
		flags, err := compile(file, known)
		if err != nil {
			return
		}
		encoded, err := file.Encode()
		if err != nil {
			t.Fatalf("a compiled file does not encode: %v", err)
		}
		again, err := ParseFile(encoded)
		if err != nil {
			t.Fatalf("the encoded file does not parse: %v\n%s", err, encoded)
		}
		if re, err := again.Encode(); err != nil || !bytes.Equal(re, encoded) {
			t.Fatalf("encode is not stable:\n%s\n---\n%s", encoded, re)
		}
		p := newProvider()
		p.swap(flags, nil)
		for key, c := range flags {
			flat := openfeature.FlattenedContext{openfeature.TargetingKey: "", "productId": product, "cardBrand": product, "country": product}
			res := p.ObjectEvaluation(context.Background(), key, Value{}, flat)
			v, ok := res.Value.(Value)
			if !ok {
				t.Fatalf("flag %q evaluated to %T, not a Value", key, res.Value)
			}
			if c.inert && !v.IsOff() {
				t.Fatalf("flag %q is judged inert but evaluates to %+v (variant %q) for %q", key, v, res.Variant, product)
			}
		}
	})
}
