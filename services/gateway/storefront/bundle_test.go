package storefront_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The committed bundle, static/storefront.js, is exactly what web/'s sources and
// lock file build (make storefront-bundle): it is rebuilt from a clean copy, with
// the locked packages from the npm registry, and compared byte for byte.
func TestBundle_IsWhatItsSourcesBuild(t *testing.T) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("npm is needed to check the storefront's bundle against its sources")
		}
		t.Skip("no npm on this machine: the bundle cannot be rebuilt")
	}
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "src"), os.DirFS(filepath.Join("web", "src"))); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"package.json", "package-lock.json"} {
		data, err := os.ReadFile(filepath.Join("web", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "storefront.js")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, args := range [][]string{{"ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"}, {"run", "build"}} {
		cmd := exec.CommandContext(ctx, npm, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "OUT="+out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm %v: %v\n%s", args, err, b)
		}
	}
	built, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join("static", "storefront.js"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, committed) {
		t.Errorf("static/storefront.js (%d bytes) is not what web/ builds (%d bytes): run `make storefront-bundle` and commit the result",
			len(committed), len(built))
	}
	t.Logf("the bundle is %d bytes, as web/ builds it", len(built))
}
