// Package rules holds the shop's Prometheus rule files (*.yml, what
// deploy/prometheus/prometheus.yml loads as rules/*.yml) and reads them for the
// code that must agree with them: the dashboards, the drills and the rule
// files' own tests, which check them with promtool and run their unit tests in
// tests/*_test.yml (a sub-folder, so that Prometheus never loads a test as a
// rule file).
package rules

import (
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// Rule is one alerting or recording rule, with the file it is in.
type Rule struct {
	File        string            `yaml:"-"`
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// Load reads every rule of the rule files in dir, in file and then rule order.
func Load(dir string) ([]Rule, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no rule files in %s", dir)
	}
	var out []Rule
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var file struct {
			Groups []struct {
				Rules []Rule `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &file); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, g := range file.Groups {
			for _, r := range g.Rules {
				r.File = f
				out = append(out, r)
			}
		}
	}
	return out, nil
}
