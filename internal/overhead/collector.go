package overhead

import (
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

// portsOverlay is a collector config, given after otel-collector.yaml, that
// moves every port the collector listens on into the variant's block (local
// mode's collector may hold the usual ones) and points the prometheus
// receiver's scrapes at this shop's admin endpoints and at the collector's own
// metrics on their new port. The collector merges maps and replaces lists, so
// the scrape jobs are copied from mainConfig with only their targets changed:
// intervals and everything else stay what the file says.
func portsOverlay(mainConfig, grpcAddr, httpAddr, health, pprof string, ownMetrics int, shopTargets []string) ([]byte, error) {
	data, err := os.ReadFile(mainConfig)
	if err != nil {
		return nil, err
	}
	var main struct {
		Receivers struct {
			Prometheus struct {
				Config struct {
					ScrapeConfigs []map[string]any `yaml:"scrape_configs"`
				} `yaml:"config"`
			} `yaml:"prometheus"`
		} `yaml:"receivers"`
	}
	if err := yaml.Unmarshal(data, &main); err != nil {
		return nil, fmt.Errorf("%s: %w", mainConfig, err)
	}
	jobs := main.Receivers.Prometheus.Config.ScrapeConfigs
	seen := map[string]bool{}
	for _, job := range jobs {
		name, _ := job["job_name"].(string)
		switch name {
		case "shop":
			job["static_configs"] = []map[string]any{{"targets": shopTargets}}
		case "otelcol":
			job["static_configs"] = []map[string]any{{"targets": []string{fmt.Sprintf("127.0.0.1:%d", ownMetrics)}}}
		default:
			return nil, fmt.Errorf("%s: scrape job %q is new to the overhead harness; say where it should point", mainConfig, name)
		}
		seen[name] = true
	}
	if !seen["shop"] || !seen["otelcol"] {
		return nil, fmt.Errorf("%s: the prometheus receiver no longer has the shop and otelcol scrape jobs", mainConfig)
	}
	overlay := map[string]any{
		"extensions": map[string]any{
			"health_check": map[string]any{"endpoint": health},
			"pprof":        map[string]any{"endpoint": pprof},
		},
		"receivers": map[string]any{
			"otlp": map[string]any{"protocols": map[string]any{
				"grpc": map[string]any{"endpoint": grpcAddr},
				"http": map[string]any{"endpoint": httpAddr},
			}},
			"prometheus": map[string]any{"config": map[string]any{"scrape_configs": jobs}},
		},
		"service": map[string]any{"telemetry": map[string]any{"metrics": map[string]any{"readers": []any{
			map[string]any{"pull": map[string]any{"exporter": map[string]any{"prometheus": map[string]any{
				"host": "127.0.0.1", "port": ownMetrics,
			}}}},
		}}}},
	}
	return yaml.Marshal(overlay)
}
