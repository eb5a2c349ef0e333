package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/flags"
)

const flagFile = "flags/shop.flags.json"

// The shipped flag file declares every fault the services know, each with an
// off variant it is set to, and is written exactly as `shop flags` writes it, so
// set-then-reset leaves no diff.
func TestFlagFile_EveryFaultDeclaredOffAndCanonical(t *testing.T) {
	known := app.Faults()
	if len(known) < 12 {
		t.Errorf("%d faults; the catalogue promises at least 12", len(known))
	}
	f, err := flags.Read(flagFile, known)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, sp := range known {
		fl, ok := f.Flags[sp.Key]
		if !ok {
			t.Errorf("%s (%s) has no flag in %s", sp.Key, sp.Service, flagFile)
			continue
		}
		if fl.DefaultVariant != flags.Off {
			t.Errorf("%s ships as %q; every flag ships off", sp.Key, fl.DefaultVariant)
		}
		if len(fl.Variants) < 2 {
			t.Errorf("%s has no variant but off", sp.Key)
		}
		kinds[sp.Service] = true
	}
	list, err := flags.List(flagFile, known)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Active {
			t.Errorf("%s is active in the shipped file", s.Key)
		}
	}
	raw, err := os.ReadFile(flagFile)
	if err != nil {
		t.Fatal(err)
	}
	canonical, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, canonical) {
		t.Errorf("%s is not written as `shop flags` writes it; rewrite it with flags.File.Encode", flagFile)
	}
	if len(kinds) < 5 {
		t.Errorf("faults in %d services; the catalogue spreads them over the system", len(kinds))
	}
}

// Every fault flag stays off through an edit round trip of the real file.
func TestFlagFile_SetThenResetLeavesItAsShipped(t *testing.T) {
	known := app.Faults()
	raw, err := os.ReadFile(flagFile)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "shop.flags.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	list, err := flags.List(path, known)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		for _, v := range s.Variants {
			if _, err := flags.SetVariant(path, known, s.Key, v); err != nil {
				t.Fatalf("set %s %s: %v", s.Key, v, err)
			}
		}
	}
	if _, err := flags.Reset(path, known); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(after, raw) {
		t.Error("setting every variant then resetting changed the file")
	}
}
