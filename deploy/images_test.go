package deploy

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/otelshop/shop/internal/composefile"
)

// imageProbes lists, for every image compose.yaml pulls, the programs a
// healthcheck can run in it, read from the image's own build files at that tag.
// A probe naming anything else would fail in the container while every parser
// accepts it.
var imageProbes = map[string]struct {
	programs []string
	source   string
}{
	"postgres:15-alpine": {[]string{"pg_isready", "psql", "sh", "bash", "wget", "nc"},
		"docker-library/postgres 15/alpine3.*/Dockerfile: FROM alpine (busybox sh, wget, nc), apk bash, PostgreSQL client programs in /usr/local/bin"},
	"redis:7-alpine": {[]string{"redis-cli", "sh", "wget", "nc"},
		"docker-library/redis 7.4/alpine/Dockerfile: FROM alpine (busybox), redis-cli installed with the server"},
	"rabbitmq:4.3-alpine": {[]string{"nc", "wget", "sh", "bash", "rabbitmq-diagnostics", "rabbitmqctl"},
		"docker-library/rabbitmq 4.3/alpine/Dockerfile: FROM alpine (busybox nc with -z, wget), apk bash procps su-exec; no curl"},
	"jaegertracing/jaeger:2.0.0": {[]string{"wget", "sh"},
		"jaegertracing/jaeger v2.0.0 cmd/jaeger/Dockerfile: FROM alpine:3.20.3 (busybox wget)"},
	"prom/prometheus:v3.12.0": {[]string{"wget", "sh", "promtool"},
		"prometheus/prometheus v3.12.0 Dockerfile: FROM quay.io/prometheus/busybox (wget); -distroless is a separate tag"},
	"grafana/loki:3.7.2": {[]string{"/usr/bin/loki"},
		"grafana/loki v3.7.2 cmd/loki/Dockerfile: distroless; `loki -health` added in v3.7.0 (PR #20313)"},
	"grafana/pyroscope:1.18.1": {[]string{"/usr/bin/profilecli", "/usr/bin/pyroscope"},
		"grafana/pyroscope v1.18.1 cmd/pyroscope/Dockerfile: distroless with profilecli (`profilecli ready` since v1.8.0)"},
	"grafana/grafana:12.2.0": {[]string{"wget", "curl", "sh", "bash"},
		"grafana/grafana v12.2.0 Dockerfile: FROM alpine, apk bash curl (busybox wget)"},
}

// slowProbes start a second runtime inside the container on every probe: an
// Erlang VM for RabbitMQ's CLI tools (about 2 s of CPU and tens of MiB each),
// inside the same memory limit as the broker.
var slowProbes = []string{"rabbitmq-diagnostics", "rabbitmqctl", "rabbitmq-plugins"}

// goImages are the images whose main program is Go, so GOMEMLIMIT applies.
var goImages = []string{"otelshop/shop:dev", "otelshop/otelcol:0.155.0", "prom/prometheus:v3.12.0",
	"jaegertracing/jaeger:2.0.0", "grafana/loki:3.7.2", "grafana/pyroscope:1.18.1", "grafana/grafana:12.2.0"}

// probeProblems checks each healthcheck of a pulled image against what the
// image holds, and the probes that race or weigh on the container.
func probeProblems(p *types.Project) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		s := p.Services[name]
		if s.Build != nil || s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 {
			continue // built here: dockerfileProblems checks the probe against the Dockerfile
		}
		image, ok := imageProbes[s.Image]
		if !ok {
			add("%s: image %s is not in the probe table (deploy/images_test.go): read its build files and add it", name, s.Image)
			continue
		}
		test := s.HealthCheck.Test
		if test[0] != "CMD" {
			add("%s: healthcheck %q: use the exec form [\"CMD\", program, ...]", name, []string(test))
			continue
		}
		if !slices.Contains(image.programs, test[1]) {
			add("%s: healthcheck runs %s, which %s does not have (%s)", name, test[1], s.Image, image.source)
		}
		if slices.Contains(slowProbes, test[1]) {
			add("%s: healthcheck runs %s, which starts an Erlang VM in the container on every probe", name, test[1])
		}
		if test[1] == "pg_isready" && !slices.Contains(test, "-h") {
			add("%s: pg_isready without -h probes the Unix socket, on which the entrypoint's init server answers before TCP is open", name)
		}
	}
	return problems
}

// budgetRow is a line of compose.yaml's memory table.
var budgetRow = regexp.MustCompile(`^#\s*\|\s*([a-z0-9-]+)\s*\|\s*(\d+) MiB\s*\|`)

// memoryTable reads compose.yaml's memory table: container -> limit in MiB.
func memoryTable(path string) (map[string]int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(data), "\n") {
		if m := budgetRow.FindStringSubmatch(line); m != nil {
			n, _ := strconv.ParseInt(m[2], 10, 64)
			out[m[1]] = n
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no memory table (# | container | N MiB | ...)", path)
	}
	return out, nil
}

// limitProblems checks every container's limit against compose.yaml's own
// table, and GOMEMLIMIT against the limit for Go programs: about 85 % of it, so
// the runtime collects harder before the kernel reclaims or kills.
func limitProblems(composePath string, p *types.Project) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	table, err := memoryTable(composePath)
	if err != nil {
		return []string{err.Error()}
	}
	var total int64
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		s := p.Services[name]
		limit := composefile.MemoryLimit(s)
		total += limit
		want, ok := table[name]
		if !ok {
			add("%s: not in compose.yaml's memory table", name)
		} else if limit != want<<20 {
			add("%s: memory limit %d MiB, the memory table says %d MiB", name, limit>>20, want)
		}
		if !slices.Contains(goImages, s.Image) || limit <= 0 {
			continue
		}
		soft, err := parseGoMemLimit(composefile.Env(s, "GOMEMLIMIT"))
		if err != nil {
			add("%s: GOMEMLIMIT: %v", name, err)
			continue
		}
		if share := float64(soft) / float64(limit); share < 0.80 || share > 0.90 {
			add("%s: GOMEMLIMIT is %.0f%% of the %d MiB limit, want about 85%%", name, 100*share, limit>>20)
		}
	}
	if stated, err := statedTotal(composePath); err != nil {
		add("%v", err)
	} else if total != stated<<20 {
		add("memory limits add up to %d MiB; compose.yaml's total says %d MiB with the load generator", total>>20, stated)
	}
	return problems
}

var totalLine = regexp.MustCompile(`(?m)^# Total \d+ MiB, (\d+) MiB with the load generator`)

// statedTotal reads the total compose.yaml states for every limit, the load
// generator's included.
func statedTotal(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	m := totalLine.FindSubmatch(data)
	if m == nil {
		return 0, fmt.Errorf("%s states no total (# Total N MiB, M MiB with the load generator)", path)
	}
	return strconv.ParseInt(string(m[1]), 10, 64)
}

// parseGoMemLimit reads the forms compose.yaml uses: 123MiB.
func parseGoMemLimit(v string) (int64, error) {
	n, ok := strings.CutSuffix(v, "MiB")
	if !ok {
		return 0, fmt.Errorf("%q, want a whole number of MiB such as 38MiB", v)
	}
	mib, err := strconv.ParseInt(n, 10, 64)
	if err != nil || mib <= 0 {
		return 0, fmt.Errorf("%q, want a whole number of MiB such as 38MiB", v)
	}
	return mib << 20, nil
}

// jaegerUIProblems checks that Jaeger reads the UI config compose defines.
func jaegerUIProblems(p *types.Project) []string {
	s, ok := p.Services["jaeger"]
	if !ok {
		return []string{"jaeger: service missing"}
	}
	path := composefile.Env(s, "JAEGER_UI_CONFIG")
	if path == "" {
		return []string{"jaeger: JAEGER_UI_CONFIG not set, so Jaeger shows no links to profiles and logs"}
	}
	if _, ok := p.Configs["jaeger-ui"]; !ok {
		return []string{"jaeger: compose.yaml defines no jaeger-ui config"}
	}
	for _, c := range s.Configs {
		if c.Source == "jaeger-ui" && c.Target == path {
			return nil
		}
	}
	return []string{fmt.Sprintf("jaeger: the jaeger-ui config is not mounted at %s (JAEGER_UI_CONFIG)", path)}
}

// jaegerDatasourceSettings are the jsonData keys Grafana's Jaeger data source
// reads (Grafana 12: public/app/plugins/datasource/jaeger/configuration/
// ConfigEditor.tsx renders TraceToLogs, TraceToMetrics, NodeGraph, SpanBar and
// TraceIdTimeParams; datasource.ts reads nodeGraph and traceIdTimeParams).
// tracesToProfiles is read only for Tempo (its resultTransformer attaches the
// profile link), so on Jaeger it would be dead configuration.
var jaegerDatasourceSettings = []string{"tracesToLogsV2", "tracesToMetrics", "nodeGraph", "spanBar", "traceIdTimeParams"}

// datasourceProblems checks the provisioned Grafana data sources.
func datasourceProblems(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return []string{err.Error()}
	}
	var file struct {
		Datasources []struct {
			UID      string         `yaml:"uid"`
			Type     string         `yaml:"type"`
			JSONData map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		return []string{fmt.Sprintf("%s: %v", path, err)}
	}
	var problems []string
	for _, d := range file.Datasources {
		if d.Type != "jaeger" {
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(d.JSONData)) {
			if !slices.Contains(jaegerDatasourceSettings, key) {
				problems = append(problems, fmt.Sprintf("grafana: the %s data source sets %s, which Grafana's Jaeger data source does not read", d.UID, key))
			}
		}
	}
	return problems
}

var datasourcesFile = filepath.Join(repoRoot, "deploy", "grafana", "provisioning", "datasources", "datasources.yaml")
