package helm

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/composefile"
	"github.com/otelshop/shop/internal/service"
)

// Every documented value set renders, each object decodes strictly into its API
// type, and the release breaks none of the platform's rules.
func TestChart_EveryValueSetRendersAndKeepsTheRules(t *testing.T) {
	sets := valueSets(t)
	if len(sets) < 4 {
		t.Fatalf("%d value sets, want the defaults and at least minimal, external backends and high availability", len(sets))
	}
	for _, vs := range sets {
		t.Run(vs.Name, func(t *testing.T) {
			r := render(t, vs)
			kinds := map[string]int{}
			for _, o := range r.Objects {
				kinds[o.Kind]++
			}
			t.Logf("%d objects: %v", len(r.Objects), kinds)
			for _, p := range problems(t, r) {
				t.Error(p)
			}
		})
	}
}

// The value sets are what their files say: the external one runs no store or
// backend of its own, the high-availability one three of everything.
func TestChart_ValueSetsDoWhatTheySay(t *testing.T) {
	byName := map[string]*release{}
	for _, vs := range valueSets(t) {
		byName[vs.Name] = render(t, vs)
	}
	for _, name := range []string{"defaults", "minimal", "external-backends", "ha"} {
		if byName[name] == nil {
			t.Fatalf("no value set %s (deploy/helm/testdata/%s.yaml)", name, name)
		}
	}
	names := func(r *release) []string {
		var out []string
		for _, w := range workloads(r) {
			out = append(out, w.Name)
		}
		return out
	}
	shop := app.Names()
	slices.Sort(shop)
	if got := names(byName["minimal"]); !slices.Equal(got, sortedCopy(append(slices.Clone(shop), "postgres", "rabbitmq", "redis"))) {
		t.Errorf("minimal runs %v, want the services and the stores only", got)
	}
	if got := names(byName["external-backends"]); !slices.Equal(got, sortedCopy(append(slices.Clone(shop), "otel-collector"))) {
		t.Errorf("external-backends runs %v, want the services and the collector only", got)
	}
	all := append(slices.Clone(shop), "grafana", "jaeger", "loki", "otel-collector", "postgres", "prometheus", "pyroscope", "rabbitmq", "redis")
	if got := names(byName["defaults"]); !slices.Equal(got, sortedCopy(all)) {
		t.Errorf("defaults run %v, want %v", got, sortedCopy(all))
	}
	ha := byName["ha"]
	for _, d := range app.Registry {
		dep, _ := findObject[*appsv1.Deployment](ha, d.Name)
		hpa := slices.ContainsFunc(objectsOfName(ha, "HorizontalPodAutoscaler"), func(n string) bool { return n == d.Name })
		switch {
		case dep == nil:
			t.Errorf("ha: no Deployment %s", d.Name)
		case hpa:
			// replicas belong to the autoscaler, whose minimum is 3 (checked by problems).
		case dep.Spec.Replicas == nil || *dep.Spec.Replicas != 3:
			t.Errorf("ha: %s runs %v replicas, want 3", d.Name, ptrVal(dep.Spec.Replicas))
		}
		if dep != nil && !slices.ContainsFunc(dep.Spec.Template.Spec.TopologySpreadConstraints, func(c corev1.TopologySpreadConstraint) bool {
			return c.TopologyKey == "kubernetes.io/hostname" && c.WhenUnsatisfiable == corev1.DoNotSchedule
		}) {
			t.Errorf("ha: %s is not spread over nodes as a hard rule", d.Name)
		}
	}
	if w, ok := findWorkload(ha, "otel-collector"); !ok || w.Replicas == nil || *w.Replicas != 2 {
		t.Errorf("ha: the collector runs %v replicas, want 2", w.Replicas)
	}
}

func objectsOfName(r *release, kind string) []string {
	var out []string
	for _, o := range r.Objects {
		if o.Kind == kind {
			out = append(out, o.Name)
		}
	}
	return out
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// The chart's defaults are compose's figures: each container's memory limit is
// its compose container's, and GOMEMLIMIT the same 85 % of it.
func TestChart_DefaultsAreComposesMeasuredFigures(t *testing.T) {
	for _, p := range composeFigureProblems(t, render(t, valueSet{Name: "defaults"})) {
		t.Error(p)
	}
}

func composeFigureProblems(t *testing.T, r *release) []string {
	t.Helper()
	project := repo(t)
	var out []string
	for _, w := range workloads(r) {
		s, ok := project.Services[w.Name]
		if !ok {
			out = append(out, fmt.Sprintf("%s: no compose service of that name", w.Name))
			continue
		}
		ctr := w.Pod.Spec.Containers[0]
		if got, want := ctr.Resources.Limits.Memory().Value(), composefile.MemoryLimit(s); got != want {
			out = append(out, fmt.Sprintf("%s: memory limit %d MiB, compose.yaml's is %d MiB", w.Name, got>>20, want>>20))
		}
		if want := composefile.Env(s, "GOMEMLIMIT"); want != "" && envValue(ctr, "GOMEMLIMIT") != want {
			out = append(out, fmt.Sprintf("%s: GOMEMLIMIT %q, compose.yaml's is %q", w.Name, envValue(ctr, "GOMEMLIMIT"), want))
		}
		for _, key := range []string{"OTELCOL_MEMORY_LIMIT_MIB", "JAEGER_MAX_TRACES"} {
			if want := composefile.Env(s, key); want != "" && envValue(ctr, key) != want {
				out = append(out, fmt.Sprintf("%s: %s %q, compose.yaml's is %q", w.Name, key, envValue(ctr, key), want))
			}
		}
	}
	return out
}

// The chart refuses a cluster older than the features it uses (preStop sleep
// actions, the pod-index label, gRPC probes).
func TestChart_NeedsKubernetes130(t *testing.T) {
	ch := theChart(t)
	for v, ok := range map[string]bool{"v1.29.9": false, "v1.30.0": true, kubeVersion: true} {
		if got := chartutil.IsCompatibleRange(ch.Metadata.KubeVersion, v); got != ok {
			t.Errorf("kubeVersion %q accepts %s: %v, want %v", ch.Metadata.KubeVersion, v, got, ok)
		}
	}
}

// Bad values are refused by values.schema.json before anything renders, with an
// error that names the value and what is wrong with it.
func TestValues_SchemaRefusesBadValues(t *testing.T) {
	tests := []struct {
		name   string
		values string
		want   []string
	}{
		{"unknown top-level key", "replicas: 3", []string{"additional properties 'replicas' not allowed"}},
		{"unknown key in a service", "services: {gateway: {replica: 2}}", []string{"/services/gateway", "'replica' not allowed"}},
		{"replicas of the wrong type", "services: {orders: {replicas: three}}", []string{"/services/orders/replicas", "got string, want integer"}},
		{"negative replicas", "services: {cart: {replicas: -1}}", []string{"/services/cart/replicas", "minimum: got -1, want 1"}},
		{"no replicas at all", "services: {cart: {replicas: 0}}", []string{"/services/cart/replicas", "minimum: got 0, want 1"}},
		{"autoscaling where state lives", "services: {orders: {autoscaling: {enabled: true, maxReplicas: 3, targetCPUUtilizationPercentage: 80}}}", []string{"/services/orders", "'autoscaling' not allowed"}},
		{"a store URL as a plain value", "shop: {env: {POSTGRES_URL: 'postgres://u:p@db/x'}}", []string{"/shop/env/POSTGRES_URL", "set by the chart: store URLs come from Secrets"}},
		{"a lower-case variable name", "services: {gateway: {env: {log_level: debug}}}", []string{"/services/gateway/env", "'log_level' not allowed"}},
		{"memory as a string", "services: {users: {memoryMiB: 84Mi}}", []string{"/services/users/memoryMiB", "got string, want integer"}},
		{"a CPU request that is no quantity", "services: {users: {cpu: lots}}", []string{"/services/users/cpu", "does not match pattern"}},
		{"an image digest that is no digest", "image: {digest: latest}", []string{"/image/digest", "does not match pattern"}},
		{"a negative grace period", "shop: {terminationGracePeriodSeconds: -5}", []string{"/shop/terminationGracePeriodSeconds", "minimum"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := renderValues(t, tt.values)
			if err == nil {
				t.Fatalf("%s: accepted", tt.values)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: the error does not say %q:\n%v", tt.values, w, err)
				}
			}
		})
	}
}

// renderValues renders the chart with the values of a YAML text and returns the
// chart's refusal, if any.
func renderValues(t *testing.T, values string) error {
	t.Helper()
	vals, err := chartutil.ReadValues([]byte(values))
	if err != nil {
		t.Fatal(err)
	}
	_, err = renderChart(theChart(t), vals.AsMap(), nil)
	return err
}

// Values that pass the schema but cannot work are refused by the chart itself,
// saying what to change.
func TestValues_ChartRefusesValuesThatCannotWork(t *testing.T) {
	tests := []struct {
		name, values, want string
	}{
		{"PostgreSQL connections run out", "services: {catalog: {autoscaling: {maxReplicas: 40}}}", "raise postgres.maxConnections to"},
		{"an external store without its Secret", "redis: {enabled: false}", "set redis.external.secretName"},
		{"no backend for traces", "jaeger: {enabled: false}", "set jaeger.external.otlpEndpoint"},
		{"no backend for metrics", "prometheus: {enabled: false}", "set prometheus.external.otlpURL"},
		{"an autoscaler below its minimum", "services: {gateway: {replicas: 5, autoscaling: {maxReplicas: 2}}}", "maxReplicas (2) is below its replicas (5)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := renderValues(t, tt.values)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: error %v, want one saying %q", tt.values, err, tt.want)
			}
		})
	}
}

// The chart's copy of the registry (templates/_helpers.tpl, shop.registry) is
// the Go registry: same services, ports, protocols, calls and stores.
func TestChart_RegistryIsTheGoRegistry(t *testing.T) {
	ch := *theChart(t)
	ch.Templates = append(slices.Clone(ch.Templates), &chart.File{
		Name: "templates/zz-registry.yaml",
		Data: []byte(`{{ include "shop.registry" . }}`),
	})
	ch.Templates = slices.DeleteFunc(ch.Templates, func(f *chart.File) bool {
		return f.Name != "templates/zz-registry.yaml" && !strings.HasPrefix(filepath.Base(f.Name), "_")
	})
	top, err := chartutil.ToRenderValues(&ch, map[string]any{}, chartutil.ReleaseOptions{Name: releaseName, Namespace: namespace}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Render(&ch, top)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]struct {
		Port     int      `json:"port"`
		Protocol string   `json:"protocol"`
		Calls    []string `json:"calls"`
		Stores   []string `json:"stores"`
	}
	if err := yaml.UnmarshalStrict([]byte(out["shop/templates/zz-registry.yaml"]), &got); err != nil {
		t.Fatal(err)
	}
	for _, d := range app.Registry {
		g, ok := got[d.Name]
		stores := make([]string, len(d.Stores))
		for i, s := range d.Stores {
			stores[i] = string(s)
		}
		switch {
		case !ok:
			t.Errorf("%s is not in the chart's registry", d.Name)
		case g.Port != d.Port || g.Protocol != string(d.Protocol) || !slices.Equal(g.Calls, d.Calls) || !slices.Equal(g.Stores, stores):
			t.Errorf("%s: chart %+v, Go registry port %d %s calls %v stores %v", d.Name, g, d.Port, d.Protocol, d.Calls, stores)
		}
		delete(got, d.Name)
	}
	for name := range got {
		t.Errorf("the chart's registry has %s, which the Go registry does not", name)
	}
	if service.HTTP != "http" || service.GRPC != "grpc" {
		t.Errorf("the protocols are named %q and %q; the chart says http and grpc", service.HTTP, service.GRPC)
	}
}

// The configuration files the chart carries are the repository's: files/ links
// them (Helm's loader follows the links, and a packaged chart holds their
// bytes), each link resolves inside the repository, and every file the chart
// loads from there is byte for byte the one in the repository.
func TestChart_FilesAreTheRepositorysOwn(t *testing.T) {
	root := mustAbs(repoRoot)
	filesDir := filepath.Join(mustAbs(chartDir), "files")
	entries, err := os.ReadDir(filesDir)
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]string{} // chart path prefix -> repository path
	for _, e := range entries {
		p := filepath.Join(filesDir, e.Name())
		if e.Type()&os.ModeSymlink == 0 {
			continue // the chart's own (the collector's Kubernetes overlay, the Jaeger UI config)
		}
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		rel, err := filepath.Rel(root, target)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("%s links %s, outside the repository", p, target)
			continue
		}
		links["files/"+e.Name()] = rel
	}
	for _, want := range []string{"otel-collector.yaml", "dashboards", "prometheus", "grafana", "jaeger", "loki", "postgres", "rabbitmq", "flags"} {
		if _, ok := links["files/"+want]; !ok {
			t.Errorf("files/%s is not a link into the repository", want)
		}
	}
	checked := 0
	for _, f := range theChart(t).Files {
		for prefix, rel := range links {
			if f.Name != prefix && !strings.HasPrefix(f.Name, prefix+"/") {
				continue
			}
			repoPath := filepath.Join(rel, strings.TrimPrefix(f.Name, prefix))
			want := readRepo(t, repoPath)
			if string(f.Data) != string(want) {
				t.Errorf("%s differs from the repository's %s (%s)", f.Name, repoPath, diffLine(f.Data, want))
			}
			checked++
		}
	}
	if checked < 15 {
		t.Errorf("only %d chart files compared with the repository's", checked)
	}
	t.Logf("%d configuration files in the chart, each the repository's bytes", checked)
}

// `helm package` resolves the links: the packaged chart holds the files
// themselves and renders the same objects as the chart in the repository.
func TestChart_PackagedChartRendersTheSame(t *testing.T) {
	dir := t.TempDir()
	archive, err := chartutil.Save(theChart(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	packaged, err := loader.Load(archive)
	if err != nil {
		t.Fatal(err)
	}
	a, err := renderChart(theChart(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := renderChart(packaged, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Objects) != len(b.Objects) {
		t.Fatalf("the packaged chart renders %d objects, the repository's %d", len(b.Objects), len(a.Objects))
	}
	for i := range a.Objects {
		oa, ob := a.Objects[i], b.Objects[i]
		if oa.Kind == "Secret" {
			continue // random
		}
		ya, _ := yaml.Marshal(oa.Obj)
		yb, _ := yaml.Marshal(ob.Obj)
		if string(ya) != string(yb) {
			t.Errorf("%s/%s differs once packaged (%s)", oa.Kind, oa.Name, diffLine(ya, yb))
		}
	}
	st, _ := os.Stat(archive)
	t.Logf("packaged: %s, %d bytes", filepath.Base(archive), st.Size())
}

// The README's Kubernetes section documents every value set and every
// top-level value.
func TestChart_ValuesDocumentedInTheREADME(t *testing.T) {
	readme := string(readRepo(t, "README.md"))
	start := strings.Index(readme, "\n## Kubernetes")
	if start < 0 {
		t.Fatal("README.md has no \"## Kubernetes\" section")
	}
	section := readme[start+1:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	for _, vs := range valueSets(t) {
		for _, f := range vs.Files {
			if !strings.Contains(section, "deploy/helm/"+f) {
				t.Errorf("the README's Kubernetes section does not mention the value set deploy/helm/%s", f)
			}
		}
	}
	defaults, err := chartutil.ReadValuesFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range slices.Sorted(maps.Keys(defaults)) {
		if !regexp.MustCompile("`" + regexp.QuoteMeta(key) + "[.`]").MatchString(section) {
			t.Errorf("the README's Kubernetes section does not describe the value %s", key)
		}
	}
}

// `helm lint` (Helm's own linter, for the cluster version the chart needs)
// finds no error and no warning in the chart, for any value set. (Its one
// remark, that a chart icon is recommended, stands: the shop has no logo.)
func TestChart_HelmLintFindsNothingWrong(t *testing.T) {
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	for _, vs := range valueSets(t) {
		linter := lint.AllWithKubeVersion(chartDir, vs.values(t), namespace, kv)
		for _, m := range linter.Messages {
			if m.Severity > support.InfoSev {
				t.Errorf("%s: helm lint: %s", vs.Name, m)
			}
		}
	}
}
