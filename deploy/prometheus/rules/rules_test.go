package rules

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// promtool returns bin/promtool, building it with tools/build.sh when absent
// (minutes on a fresh machine; CI builds the tools first).
func promtool(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "bin", "promtool")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	t.Logf("%s missing: building it with tools/build.sh prometheus", bin)
	build := exec.Command("bash", filepath.Join(root, "tools", "build.sh"), "prometheus")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("tools/build.sh prometheus: %v\n%s", err, out)
	}
	return bin
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	return files
}

func runPromtool(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestRules_PassPromtoolCheck(t *testing.T) {
	out := runPromtool(t, append([]string{"check", "rules"}, glob(t, "*.yml")...)...)
	t.Log(out)
}

func TestRules_UnitTestsPass(t *testing.T) {
	out := runPromtool(t, append([]string{"test", "rules"}, glob(t, filepath.Join("tests", "*_test.yml"))...)...)
	t.Log(out)
}

// Every rule file has its unit tests, and every test file tests rule files that exist.
func TestRules_EveryRuleFileIsTested(t *testing.T) {
	tested := map[string]bool{}
	for _, f := range glob(t, filepath.Join("tests", "*_test.yml")) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "- ../"); ok && strings.HasSuffix(rest, ".yml") {
				if _, err := os.Stat(rest); err != nil {
					t.Errorf("%s loads ../%s: %v", f, rest, err)
				}
				tested[rest] = true
			}
		}
	}
	for _, f := range glob(t, "*.yml") {
		if !tested[f] {
			t.Errorf("%s has no promtool unit test in tests/ (rule_files: [../%s])", f, f)
		}
	}
}

// Every alert's runbook_url names a runbook of this repository, docs/runbooks/<alert>.md,
// and that file exists: an on-call engineer who follows the link finds the page.
func TestRules_RunbookURLsResolve(t *testing.T) {
	const base = "https://github.com/otelshop/shop/blob/main/"
	all, err := Load(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		url, ok := r.Annotations["runbook_url"]
		if r.Alert == "" || !ok {
			continue
		}
		path, ok := strings.CutPrefix(url, base)
		if want := "docs/runbooks/" + r.Alert + ".md"; !ok || path != want {
			t.Errorf("%s: %s's runbook_url is %s, want %s%s", r.File, r.Alert, url, base, want)
			continue
		}
		if _, err := os.Stat(filepath.Join("..", "..", "..", path)); err != nil {
			t.Errorf("%s: %s's runbook %s: %v", r.File, r.Alert, path, err)
		}
	}
}
