package deploy

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/modfile"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/composefile"
	"github.com/otelshop/shop/internal/service"
)

// repoRoot is where compose.yaml and everything it references live.
const repoRoot = ".."

// shopTelemetryEnv is read by every shop process (docs/contract.md, Telemetry and Ports).
var shopTelemetryEnv = []string{
	"ADMIN_ADDR",
	"SHOP_SECRETS_DIR",
	"OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL",
	"OTEL_SERVICE_NAME",
	"OTEL_RESOURCE_ATTRIBUTES",
	"PYROSCOPE_SERVER_ADDRESS",
}

// shopServiceEnv is what each service reads beyond shopTelemetryEnv: its
// listen address, its stores and the services it calls, from the registry
// (internal/app), so a service added there is missing here until compose.yaml
// has it; TestCompose_EnvNamesComeFromTheContract checks every name against
// docs/contract.md.
var shopServiceEnv = registryEnv()

func registryEnv() map[string][]string {
	storeEnv := map[service.Store]string{service.Postgres: "POSTGRES_URL", service.Redis: "REDIS_URL", service.RabbitMQ: "RABBITMQ_URL"}
	// What a service reads beyond its definition: the gateway forwards the
	// browser's spans to the collector.
	extra := map[string][]string{"gateway": {"BROWSER_TRACES_URL"}}
	env := map[string][]string{}
	for _, d := range app.Registry {
		names := []string{d.AddrEnv()}
		for _, callee := range d.Calls {
			peer, ok := app.Lookup(callee)
			if !ok {
				panic(fmt.Sprintf("%s calls %s, which the registry does not list", d.Name, callee))
			}
			names = append(names, peer.PeerEnv())
		}
		for _, st := range d.Stores {
			names = append(names, storeEnv[st])
		}
		env[d.Name] = append(names, extra[d.Name]...)
	}
	return env
}

// testEnv stands in for the user's shell: only what compose.yaml requires.
var testEnv []string

func TestCompose_MeetsPlatformRules(t *testing.T) {
	project := loadCompose(t, filepath.Join(repoRoot, "compose.yaml"), testEnv)
	for _, problem := range composeProblems(repoRoot, project) {
		t.Error(problem)
	}
}

// TestCompose_ProblemsAreCaught breaks a freshly loaded compose.yaml in one way
// at a time and expects composeProblems to name the breakage: a checker that
// never fails would pass TestCompose_MeetsPlatformRules too.
func TestCompose_ProblemsAreCaught(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(p *types.Project)
		want    string
	}{
		{"healthcheck removed", func(p *types.Project) {
			editService(p, "jaeger", func(s *types.ServiceConfig) { s.HealthCheck = nil })
		}, "jaeger: no healthcheck"},
		{"memory limit removed", func(p *types.Project) {
			editService(p, "redis", func(s *types.ServiceConfig) { s.Deploy = nil; s.MemLimit = 0 })
		}, "redis: no memory limit"},
		{"memory budget exceeded", func(p *types.Project) {
			editService(p, "grafana", func(s *types.ServiceConfig) { s.Deploy.Resources.Limits.MemoryBytes = 1 << 30 })
		}, "memory limits add up to 3524 MiB; compose.yaml's total says"},
		{"port published on every interface", func(p *types.Project) {
			editService(p, "gateway", func(s *types.ServiceConfig) { s.Ports[0].HostIP = "" })
		}, "gateway: port 8080 published on"},
		{"bind mount of a missing file", func(p *types.Project) {
			editService(p, "prometheus", func(s *types.ServiceConfig) {
				s.Volumes[0].Source = filepath.Join(s.Volumes[0].Source, "missing.yml")
			})
		}, "prometheus: bind mount source"},
		{"missing build context", func(p *types.Project) {
			editService(p, "otel-collector", func(s *types.ServiceConfig) { s.Build.Context += "-missing" })
		}, "otel-collector: build context"},
		{"env the service reads is missing", func(p *types.Project) {
			editService(p, "orders", func(s *types.ServiceConfig) { delete(s.Environment, "INVENTORY_TARGET") })
		}, "orders: INVENTORY_TARGET not set"},
		{"peer addressed by loopback", func(p *types.Project) {
			editService(p, "gateway", func(s *types.ServiceConfig) {
				u := "http://127.0.0.1:8081"
				s.Environment["USERS_URL"] = &u
			})
		}, `gateway: USERS_URL points at "127.0.0.1"`},
		{"shop service missing", func(p *types.Project) { delete(p.Services, "shipping") }, "shipping: shop service missing"},
		{"shop runs as root", func(p *types.Project) {
			editService(p, "cart", func(s *types.ServiceConfig) { s.User = "" })
		}, "cart: runs as root"},
		{"prometheus image differs from the local pin", func(p *types.Project) {
			editService(p, "prometheus", func(s *types.ServiceConfig) { s.Image = "prom/prometheus:v3.11.0" })
		}, "prometheus: image prom/prometheus:v3.11.0, want prom/prometheus:v3.12.0"},
		{"jaeger image differs from the local pin", func(p *types.Project) {
			editService(p, "jaeger", func(s *types.ServiceConfig) { s.Image = "jaegertracing/jaeger:latest" })
		}, "jaeger: image jaegertracing/jaeger:latest"},
		{"healthcheck binary not in the image", func(p *types.Project) {
			editService(p, "users", func(s *types.ServiceConfig) { s.HealthCheck.Test[1] = "/usr/bin/wget" })
		}, "users: healthcheck runs /usr/bin/wget"},
		{"probe the image lacks", func(p *types.Project) {
			editService(p, "loki", func(s *types.ServiceConfig) {
				s.HealthCheck.Test = []string{"CMD", "wget", "-q", "http://127.0.0.1:3100/ready"}
			})
		}, "loki: healthcheck runs wget, which grafana/loki:3.7.2 does not have"},
		{"probe that starts a second VM", func(p *types.Project) {
			editService(p, "rabbitmq", func(s *types.ServiceConfig) {
				s.HealthCheck.Test = []string{"CMD", "rabbitmq-diagnostics", "-q", "ping"}
			})
		}, "rabbitmq: healthcheck runs rabbitmq-diagnostics, which starts an Erlang VM"},
		{"pg_isready on the socket", func(p *types.Project) {
			editService(p, "postgres", func(s *types.ServiceConfig) { s.HealthCheck.Test = []string{"CMD", "pg_isready", "-U", "postgres"} })
		}, "postgres: pg_isready without -h"},
		{"image not in the probe table", func(p *types.Project) {
			editService(p, "rabbitmq", func(s *types.ServiceConfig) { s.Image = "rabbitmq:3.13-alpine" })
		}, "rabbitmq: image rabbitmq:3.13-alpine is not in the probe table"},
		{"limit differs from the table", func(p *types.Project) {
			editService(p, "grafana", func(s *types.ServiceConfig) { s.Deploy.Resources.Limits.MemoryBytes = 128 << 20 })
		}, "grafana: memory limit 128 MiB, the memory table says"},
		{"GOMEMLIMIT far from the limit", func(p *types.Project) {
			editService(p, "catalog", func(s *types.ServiceConfig) {
				v := "8MiB"
				s.Environment["GOMEMLIMIT"] = &v
			})
		}, "catalog: GOMEMLIMIT is"},
		{"Jaeger UI config not mounted", func(p *types.Project) {
			editService(p, "jaeger", func(s *types.ServiceConfig) { s.Configs = nil })
		}, "jaeger: the jaeger-ui config is not mounted"},
		{"flag directory not mounted", func(p *types.Project) {
			editService(p, "payments", func(s *types.ServiceConfig) {
				s.Volumes = slices.DeleteFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool { return strings.HasSuffix(v.Source, "flags") })
			})
		}, "payments: FLAGS_FILE /etc/shop/flags/shop.flags.json is in no mounted directory"},
		{"flag file mounted alone", func(p *types.Project) {
			editService(p, "cart", func(s *types.ServiceConfig) {
				for i, v := range s.Volumes {
					if strings.HasSuffix(v.Source, "flags") {
						s.Volumes[i].Source += "/shop.flags.json"
						s.Volumes[i].Target += "/shop.flags.json"
					}
				}
			})
		}, "cart: the flag file is mounted alone"},
		{"dependency not waited for", func(p *types.Project) {
			editService(p, "users", func(s *types.ServiceConfig) {
				s.DependsOn["postgres"] = types.ServiceDependency{Condition: types.ServiceConditionStarted, Required: true}
			})
		}, "users: depends on postgres with condition service_started"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			project := loadCompose(t, filepath.Join(repoRoot, "compose.yaml"), testEnv)
			tt.breakIt(project)
			problems := composeProblems(repoRoot, project)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("no problem mentions %q; got %d problems:\n%s", tt.want, len(problems), strings.Join(problems, "\n"))
			}
		})
	}
}

// Grafana's Jaeger data source is given only settings it reads.
func TestGrafana_JaegerDatasourceHasOnlySettingsGrafanaReads(t *testing.T) {
	for _, problem := range datasourceProblems(datasourcesFile) {
		t.Error(problem)
	}
	broken := filepath.Join(t.TempDir(), "datasources.yaml")
	data, err := os.ReadFile(datasourcesFile)
	if err != nil {
		t.Fatal(err)
	}
	withProfiles := strings.Replace(string(data), "      tracesToMetrics:", "      tracesToProfiles:\n        datasourceUid: pyroscope\n      tracesToMetrics:", 1)
	if err := os.WriteFile(broken, []byte(withProfiles), 0o644); err != nil {
		t.Fatal(err)
	}
	if problems := datasourceProblems(broken); len(problems) != 1 || !strings.Contains(problems[0], "tracesToProfiles") {
		t.Errorf("tracesToProfiles on the Jaeger data source: problems %q, want it named", problems)
	}
}

// Grafana never runs with a default admin password: without GRAFANA_ADMIN_PASSWORD the
// mounted grafana.ini's "no initial admin" stands; with it, the admin has that password.
func TestCompose_GrafanaHasNoDefaultAdmin(t *testing.T) {
	ini, err := os.ReadFile(filepath.Join(repoRoot, "deploy/grafana/grafana.ini"))
	if err != nil || !strings.Contains(string(ini), "disable_initial_admin_creation = true") {
		t.Fatalf("deploy/grafana/grafana.ini must disable the initial admin (%v)", err)
	}
	for _, tt := range []struct {
		env                 []string
		wantDisable, wantPW string
	}{
		{nil, "", ""}, // empty: Grafana keeps the file's true
		{[]string{"GRAFANA_ADMIN_PASSWORD=s3cret-pw"}, "false", "s3cret-pw"},
	} {
		project := loadCompose(t, filepath.Join(repoRoot, "compose.yaml"), tt.env)
		g := project.Services["grafana"]
		if got := envValue(g.Environment, "GF_SECURITY_DISABLE_INITIAL_ADMIN_CREATION"); got != tt.wantDisable {
			t.Errorf("env %v: GF_SECURITY_DISABLE_INITIAL_ADMIN_CREATION=%q, want %q", tt.env, got, tt.wantDisable)
		}
		if got := envValue(g.Environment, "GF_SECURITY_ADMIN_PASSWORD"); got != tt.wantPW || got == "admin" {
			t.Errorf("env %v: GF_SECURITY_ADMIN_PASSWORD=%q, want %q", tt.env, got, tt.wantPW)
		}
		mounted := false
		for _, v := range g.Volumes {
			mounted = mounted || v.Target == "/etc/grafana/grafana.ini"
		}
		if !mounted {
			t.Error("grafana.ini is not mounted at /etc/grafana/grafana.ini")
		}
	}
}

func envValue(env map[string]*string, key string) string {
	if v := env[key]; v != nil {
		return *v
	}
	return ""
}

// TestCompose_EnvNamesComeFromTheContract keeps shopServiceEnv honest: every
// name it requires is one docs/contract.md documents.
func TestCompose_EnvNamesComeFromTheContract(t *testing.T) {
	contract, err := os.ReadFile(filepath.Join(repoRoot, "docs", "contract.md"))
	if err != nil {
		t.Fatal(err)
	}
	names := slices.Clone(shopTelemetryEnv)
	for _, env := range shopServiceEnv {
		names = append(names, env...)
	}
	for _, name := range names {
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`).Match(contract) {
			t.Errorf("%s is required of a shop service but docs/contract.md does not mention it", name)
		}
	}
}

func loadCompose(t *testing.T, path string, env []string) *types.Project {
	t.Helper()
	project, err := loadComposeErr(t, path, env)
	if err != nil {
		t.Fatal(err)
	}
	return project
}

// loadComposeErr loads a compose file the way `docker compose --profile load`
// does, with env as the only environment (not the test process's) so the
// result does not depend on who runs the test.
func loadComposeErr(t *testing.T, path string, env []string) (*types.Project, error) {
	t.Helper()
	return composefile.Load(context.Background(), path, env)
}

func editService(p *types.Project, name string, edit func(*types.ServiceConfig)) {
	s, ok := p.Services[name]
	if !ok {
		panic("no service " + name + " in compose.yaml")
	}
	edit(&s)
	p.Services[name] = s
}

// composeProblems lists, one sentence each, every way the project breaks the
// platform's rules. root is the repository root that tools/ is read from.
func composeProblems(root string, p *types.Project) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		s := p.Services[name]
		if (s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0) && !oneShot(p, name) {
			add("%s: no healthcheck", name)
		}
		if composefile.MemoryLimit(s) <= 0 {
			add("%s: no memory limit", name)
		}
		if s.Restart == "" || s.Restart == types.RestartPolicyNo {
			add("%s: no restart policy", name)
		}
		for _, port := range s.Ports {
			if port.Published != "" && port.HostIP != "127.0.0.1" {
				add("%s: port %d published on %q, want 127.0.0.1", name, port.Target, port.HostIP)
			}
		}
		for _, v := range s.Volumes {
			switch v.Type {
			case types.VolumeTypeBind:
				if _, err := os.Stat(v.Source); err != nil {
					add("%s: bind mount source %s: %v", name, v.Source, err)
				}
			case types.VolumeTypeVolume:
				if _, ok := p.Volumes[v.Source]; !ok {
					add("%s: volume %q is not a declared named volume", name, v.Source)
				}
			}
		}
		if s.Build != nil {
			if st, err := os.Stat(s.Build.Context); err != nil || !st.IsDir() {
				add("%s: build context %s is not a directory (%v)", name, s.Build.Context, err)
			} else if dockerfile, err := os.ReadFile(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
				add("%s: Dockerfile: %v", name, err)
			} else {
				problems = append(problems, dockerfileProblems(name, s, s.Build.Context, string(dockerfile))...)
			}
		}
		for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
			cond := s.DependsOn[dep].Condition
			target, ok := p.Services[dep]
			if !ok {
				add("%s: depends on %s, which is not a service", name, dep)
				continue
			}
			switch {
			case oneShot(p, dep):
			case target.HealthCheck != nil && !target.HealthCheck.Disable && cond != types.ServiceConditionHealthy:
				add("%s: depends on %s with condition %s, want %s", name, dep, cond, types.ServiceConditionHealthy)
			}
		}
	}
	problems = append(problems, shopServiceProblems(p)...)
	problems = append(problems, pinProblems(root, p)...)
	problems = append(problems, probeProblems(p)...)
	problems = append(problems, limitProblems(filepath.Join(root, "compose.yaml"), p)...)
	problems = append(problems, jaegerUIProblems(p)...)
	return problems
}

// oneShot says whether a service runs once and exits, as the others wait for
// (depends_on service_completed_successfully): a healthcheck has nothing to probe.
func oneShot(p *types.Project, name string) bool {
	waited := false
	for _, s := range p.Services {
		if dep, ok := s.DependsOn[name]; ok {
			if dep.Condition != types.ServiceConditionCompletedSuccessfully {
				return false
			}
			waited = true
		}
	}
	return waited
}

// dockerfileProblems checks an image built here against its service: every
// ./cmd/... package the Dockerfile builds exists in the context, and a
// healthcheck that runs an absolute path finds that file in the image.
func dockerfileProblems(name string, s types.ServiceConfig, context, dockerfile string) []string {
	var problems []string
	for _, field := range strings.Fields(dockerfile) {
		if pkg, ok := strings.CutPrefix(field, "./cmd/"); ok {
			if _, err := os.Stat(filepath.Join(context, "cmd", pkg)); err != nil {
				problems = append(problems, fmt.Sprintf("%s: Dockerfile builds ./cmd/%s: %v", name, pkg, err))
			}
		}
	}
	if s.HealthCheck != nil && len(s.HealthCheck.Test) > 1 && s.HealthCheck.Test[0] == "CMD" &&
		strings.HasPrefix(s.HealthCheck.Test[1], "/") && !strings.Contains(dockerfile, " "+s.HealthCheck.Test[1]) {
		problems = append(problems, fmt.Sprintf("%s: healthcheck runs %s, which its Dockerfile does not put in the image", name, s.HealthCheck.Test[1]))
	}
	return problems
}

// shopServiceProblems checks the eight shop containers: each runs its own
// subcommand as a non-root user with the environment it reads, and reaches
// other containers by their compose service names.
func shopServiceProblems(p *types.Project) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, name := range slices.Sorted(maps.Keys(shopServiceEnv)) {
		s, ok := p.Services[name]
		if !ok {
			add("%s: shop service missing", name)
			continue
		}
		if len(s.Command) == 0 || s.Command[0] != name {
			add("%s: command %q, want %q first", name, []string(s.Command), name)
		}
		if user, _, _ := strings.Cut(s.User, ":"); user == "" || user == "0" || user == "root" {
			add("%s: runs as root (user %q)", name, s.User)
		}
		for _, key := range append(slices.Clone(shopTelemetryEnv), shopServiceEnv[name]...) {
			if v := s.Environment[key]; v == nil || *v == "" {
				add("%s: %s not set", name, key)
			}
		}
		if v := s.Environment["OTEL_SERVICE_NAME"]; v != nil && *v != name {
			add("%s: OTEL_SERVICE_NAME is %q, want %q", name, *v, name)
		}
		if problem := flagsMountProblem(s); problem != "" {
			add("%s: %s", name, problem)
		}
		for _, key := range slices.Sorted(maps.Keys(s.Environment)) {
			v := s.Environment[key]
			if v == nil || !isPeerAddress(key) {
				continue
			}
			host := hostOf(*v)
			if _, ok := p.Services[host]; !ok {
				add("%s: %s points at %q, which is not a compose service", name, key, host)
			}
		}
	}
	return problems
}

// flagsMountProblem checks that a shop container sees deploy/flags as a
// directory at FLAGS_FILE's: `shop flags set` replaces the file (a rename),
// which a bind mount of the file alone would never show the container.
func flagsMountProblem(s types.ServiceConfig) string {
	v := s.Environment["FLAGS_FILE"]
	if v == nil || *v == "" {
		return "FLAGS_FILE not set"
	}
	dir := filepath.Dir(*v)
	for _, m := range s.Volumes {
		switch {
		case m.Target == *v:
			return "the flag file is mounted alone (mount its directory: a replaced file never reaches the container)"
		case m.Target == dir:
			if filepath.Base(m.Source) != "flags" || filepath.Base(filepath.Dir(m.Source)) != "deploy" {
				return fmt.Sprintf("%s is mounted from %s, not deploy/flags", dir, m.Source)
			}
			return ""
		}
	}
	return fmt.Sprintf("FLAGS_FILE %s is in no mounted directory", *v)
}

// isPeerAddress says whether an env var names another container to connect to.
func isPeerAddress(key string) bool {
	for _, suffix := range []string{"_URL", "_TARGET", "_ENDPOINT", "_SERVER_ADDRESS"} {
		if strings.HasSuffix(key, suffix) {
			return true
		}
	}
	return false
}

// hostOf returns the host of a URL (scheme://host:port/...) or of host:port.
func hostOf(addr string) string {
	if strings.Contains(addr, "://") {
		if u, err := url.Parse(addr); err == nil {
			return u.Hostname()
		}
		return addr
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// pinProblems checks that compose runs the backends local mode builds: the
// images' versions follow the pins in tools/*/go.mod and the collector is
// built from tools/otelcol's manifest.
func pinProblems(root string, p *types.Project) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	checkImage := func(service, repo string, tag func() (string, error)) {
		want, err := tag()
		if err != nil {
			add("%s: %v", service, err)
			return
		}
		s, ok := p.Services[service]
		if !ok {
			add("%s: service missing", service)
			return
		}
		if s.Image != repo+":"+want {
			add("%s: image %s, want %s:%s (tools/ pin)", service, s.Image, repo, want)
		}
	}
	checkImage("prometheus", "prom/prometheus", func() (string, error) {
		v, err := requiredVersion(filepath.Join(root, "tools", "prometheus", "go.mod"), "github.com/prometheus/prometheus")
		if err != nil {
			return "", err
		}
		return prometheusRelease(v)
	})
	checkImage("jaeger", "jaegertracing/jaeger", func() (string, error) {
		v, err := requiredVersion(filepath.Join(root, "tools", "jaeger", "go.mod"), "github.com/jaegertracing/jaeger")
		if err != nil {
			return "", err
		}
		return jaegerImage(v)
	})

	manifestPath := filepath.Join(root, "tools", "otelcol", "manifest.yaml")
	modules, err := manifestModules(manifestPath)
	if err != nil {
		add("otel-collector: %v", err)
		return problems
	}
	collectorVersion, err := manifestVersion(modules, manifestPath)
	if err != nil {
		add("otel-collector: %v", err)
		return problems
	}
	// The builder's sources compile against tools/otelcol/go.mod, so it must
	// require each component at the version the manifest names.
	requires, err := goModRequires(filepath.Join(root, "tools", "otelcol", "go.mod"))
	if err != nil {
		add("otel-collector: %v", err)
		return problems
	}
	for _, module := range slices.Sorted(maps.Keys(modules)) {
		if got := requires[module]; got != modules[module] {
			add("otel-collector: tools/otelcol/go.mod requires %s at %q, the manifest at %s", module, got, modules[module])
		}
	}
	s, ok := p.Services["otel-collector"]
	switch {
	case !ok:
		add("otel-collector: service missing")
	case s.Build == nil || filepath.Clean(s.Build.Context) != filepath.Join(mustAbs(root), "tools", "otelcol"):
		add("otel-collector: not built from tools/otelcol")
	case !strings.HasSuffix(s.Image, ":"+strings.TrimPrefix(collectorVersion, "v")):
		add("otel-collector: image %s, want tag %s (tools/otelcol/manifest.yaml)", s.Image, strings.TrimPrefix(collectorVersion, "v"))
	}
	for _, file := range []string{"tools/otelcol/Dockerfile", "tools/build.sh"} {
		text, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			add("otel-collector: %v", err)
			continue
		}
		if !strings.Contains(string(text), "="+collectorVersion) {
			add("otel-collector: %s does not pin the builder at %s like the manifest's components", file, collectorVersion)
		}
	}
	return problems
}

// requiredVersion reads the version goModPath requires of module.
func requiredVersion(goModPath, module string) (string, error) {
	requires, err := goModRequires(goModPath)
	if err != nil {
		return "", err
	}
	v, ok := requires[module]
	if !ok {
		return "", fmt.Errorf("%s does not require %s", goModPath, module)
	}
	return v, nil
}

// goModRequires maps every module goModPath requires to its version.
func goModRequires(goModPath string) (map[string]string, error) {
	data, err := os.ReadFile(goModPath)
	if err != nil {
		return nil, err
	}
	f, err := modfile.ParseLax(goModPath, data, nil)
	if err != nil {
		return nil, err
	}
	requires := make(map[string]string, len(f.Require))
	for _, r := range f.Require {
		requires[r.Mod.Path] = r.Mod.Version
	}
	return requires, nil
}

// builderManifest is the part of the collector builder's manifest the pins
// are read from: every component and provider as "module version".
type builderManifest struct {
	Receivers  []gomodEntry `yaml:"receivers"`
	Processors []gomodEntry `yaml:"processors"`
	Connectors []gomodEntry `yaml:"connectors"`
	Exporters  []gomodEntry `yaml:"exporters"`
	Extensions []gomodEntry `yaml:"extensions"`
	Providers  []gomodEntry `yaml:"providers"`
}

type gomodEntry struct {
	GoMod string `yaml:"gomod"`
}

// manifestModules maps every module the builder manifest lists to its version.
func manifestModules(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m builderManifest
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	modules := map[string]string{}
	for _, list := range [][]gomodEntry{m.Receivers, m.Processors, m.Connectors, m.Exporters, m.Extensions, m.Providers} {
		for _, e := range list {
			module, version, ok := strings.Cut(strings.TrimSpace(e.GoMod), " ")
			if !ok {
				return nil, fmt.Errorf("%s: gomod %q is not \"module version\"", path, e.GoMod)
			}
			modules[module] = strings.TrimSpace(version)
		}
	}
	if len(modules) == 0 {
		return nil, fmt.Errorf("%s lists no components", path)
	}
	return modules, nil
}

// manifestVersion returns the one version the builder manifest pins every
// collector component (core and contrib, v0.x) at.
func manifestVersion(modules map[string]string, path string) (string, error) {
	var version string
	for _, v := range modules {
		if !strings.HasPrefix(v, "v0.") {
			continue // the confmap providers are v1.x, on their own schedule
		}
		if version != "" && v != version {
			return "", fmt.Errorf("%s pins components at both %s and %s", path, version, v)
		}
		version = v
	}
	if version == "" {
		return "", fmt.Errorf("%s pins no v0.x component", path)
	}
	return version, nil
}

// prometheusRelease maps the Go module version to the release it is:
// github.com/prometheus/prometheus v0.3MM.P is Prometheus v3.MM.P.
func prometheusRelease(module string) (string, error) {
	major, minor, patch, err := semver(module)
	if err != nil || major != 0 || minor < 300 || minor >= 400 {
		return "", fmt.Errorf("prometheus module %s is not a v0.3xx (Prometheus 3) version", module)
	}
	return fmt.Sprintf("v3.%d.%d", minor-300, patch), nil
}

// jaegerImage maps the Go module version to the jaegertracing/jaeger image
// tag compose runs. Module v1.N (N >= 63) is Jaeger 2.(N-63); the release
// candidates v1.60-v1.62 (2.0.0-rc0..rc2) map to 2.0.0, the release they
// led to, as the nearest published v2 image (documented in compose.yaml).
func jaegerImage(module string) (string, error) {
	major, minor, patch, err := semver(module)
	switch {
	case err != nil || major != 1 || minor < 60:
		return "", fmt.Errorf("jaeger module %s is not a Jaeger v2 version (v1.60 or later)", module)
	case minor <= 62:
		return "2.0.0", nil
	default:
		return fmt.Sprintf("2.%d.%d", minor-63, patch), nil
	}
}

func semver(v string) (major, minor, patch int, err error) {
	parts := strings.Split(strings.TrimPrefix(v, "v"), ".")
	if len(parts) != 3 {
		return 0, 0, 0, fmt.Errorf("version %q is not vMAJOR.MINOR.PATCH", v)
	}
	var nums [3]int
	for i, part := range parts {
		if nums[i], err = strconv.Atoi(part); err != nil {
			return 0, 0, 0, fmt.Errorf("version %q: %w", v, err)
		}
	}
	return nums[0], nums[1], nums[2], nil
}

func mustAbs(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		panic(err)
	}
	return abs
}

// compose.tail-sampling.yaml, merged over compose.yaml, gives the collector the
// tail-sampling overlay after its main config, both mounted from the repository.
func TestCompose_TailSamplingOverrideAddsTheOverlay(t *testing.T) {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	p, err := composefile.Load(context.Background(), filepath.Join(root, "compose.yaml"), nil,
		filepath.Join(root, "compose.tail-sampling.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := p.Services["otel-collector"]
	mounted := map[string]string{} // target → source
	for _, v := range c.Volumes {
		mounted[v.Target] = v.Source
	}
	var configs []string
	for i, arg := range c.Command {
		if arg == "--config" && i+1 < len(c.Command) {
			configs = append(configs, c.Command[i+1])
		}
	}
	want := []string{"otel-collector.yaml", "otel-collector.tail-sampling.yaml"}
	if len(configs) != len(want) {
		t.Fatalf("collector command %q: want --config for each of %v", c.Command, want)
	}
	for i, target := range configs {
		if src := mounted[target]; src != filepath.Join(root, want[i]) {
			t.Errorf("--config %s is mounted from %q, want %s", target, src, want[i])
		}
	}
}
