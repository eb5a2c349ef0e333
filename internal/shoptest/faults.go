package shoptest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/flags"
)

// ShippedFlagFile is deploy/flags/shop.flags.json of this checkout.
func ShippedFlagFile(t testing.TB) string {
	t.Helper()
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the repository")
	}
	return filepath.Join(filepath.Dir(here), "..", "..", "deploy", "flags", "shop.flags.json")
}

// copyFlagFile copies the shipped flag file into a directory of the test's own.
func copyFlagFile(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(ShippedFlagFile(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "shop.flags.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// SetFault switches a fault of the shop's flag file to variant (flags.Off to
// turn it off); every service sees it within the poll interval.
func (s *Shop) SetFault(t testing.TB, fault, variant string) {
	t.Helper()
	if _, err := flags.SetVariant(s.Env[flags.FileEnv], app.Faults(), fault, variant); err != nil {
		t.Fatal(err)
	}
}
