package helm

import (
	"context"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"
	"helm.sh/helm/v3/pkg/ignore"
	corev1 "k8s.io/api/core/v1"

	"github.com/otelshop/shop/internal/composefile"
)

// fileView is what a container sees of its ConfigMap volumes: path -> content.
// Secret volumes appear with secretMarker content (their bytes are not the
// chart's to compare).
type fileView map[string]string

const secretMarker = "\x00secret"

// podFiles resolves a container's mounts (ConfigMap, projected and Secret
// volumes, whole directories or subPath files) into the files it sees.
func (c *checker) podFiles(at string, spec corev1.PodSpec, ctr corev1.Container) fileView {
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	view := fileView{}
	for _, m := range ctr.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			continue // podRules reports it
		}
		files := c.volumeFiles(at, v)
		if files == nil {
			continue // not a configuration volume (emptyDir, claim)
		}
		if m.SubPath != "" {
			content, ok := files[m.SubPath]
			if !ok {
				c.add("%s: mounts %s of volume %s, which has no such file", at, m.SubPath, v.Name)
				continue
			}
			view[m.MountPath] = content
			continue
		}
		for p, content := range files {
			view[path.Join(m.MountPath, p)] = content
		}
	}
	return view
}

// volumeFiles lists a configuration volume's files by their path inside it, nil
// for any other kind of volume.
func (c *checker) volumeFiles(at string, v corev1.Volume) map[string]string {
	out := map[string]string{}
	fromConfigMap := func(name string, items []corev1.KeyToPath) {
		cm, ok := findObject[*corev1.ConfigMap](c.r, name)
		if !ok {
			c.add("%s: volume %s mounts ConfigMap %s, which is not rendered", at, v.Name, name)
			return
		}
		if len(items) == 0 {
			for k, data := range cm.Data {
				out[k] = data
			}
			return
		}
		for _, it := range items {
			data, ok := cm.Data[it.Key]
			if !ok {
				c.add("%s: volume %s wants key %s of ConfigMap %s, which it lacks", at, v.Name, it.Key, name)
				continue
			}
			out[it.Path] = data
		}
	}
	fromSecret := func(items []corev1.KeyToPath) {
		for _, it := range items {
			out[it.Path] = secretMarker
		}
	}
	switch {
	case v.ConfigMap != nil:
		fromConfigMap(v.ConfigMap.Name, v.ConfigMap.Items)
	case v.Secret != nil:
		fromSecret(v.Secret.Items)
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			switch {
			case src.ConfigMap != nil:
				fromConfigMap(src.ConfigMap.Name, src.ConfigMap.Items)
			case src.Secret != nil:
				fromSecret(src.Secret.Items)
			}
		}
	default:
		return nil
	}
	return out
}

// chartIgnore is the chart's .helmignore: what its files/ links bring along
// that is not configuration (the dashboards' Go code, the rules' tests).
var chartIgnore = sync.OnceValues(func() (*ignore.Rules, error) {
	rules, err := ignore.ParseFile(filepath.Join(chartDir, ignore.HelmIgnore))
	if err != nil {
		return nil, err
	}
	rules.AddDefaults()
	return rules, nil
})

// configFiles lists the configuration files of a directory compose mounts, by
// path relative to it: every file but what the chart's .helmignore leaves out.
func configFiles(dir string) (map[string]string, error) {
	rules, err := chartIgnore()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if rules.Ignore("files/x/"+filepath.ToSlash(rel), info) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	return out, err
}

// composeWithURL is compose.yaml as docker compose reads it with GRAFANA_URL
// set (the Jaeger UI's links point there).
var composeWithURL = struct {
	sync.Mutex
	byURL map[string]*types.Project
}{byURL: map[string]*types.Project{}}

func (c *checker) composeFor(grafanaURL string) *types.Project {
	composeWithURL.Lock()
	defer composeWithURL.Unlock()
	if p, ok := composeWithURL.byURL[grafanaURL]; ok {
		return p
	}
	p, err := composefile.Load(context.Background(), filepath.Join(repoRoot, "compose.yaml"), []string{"GRAFANA_URL=" + grafanaURL})
	if err != nil {
		c.t.Fatal(err)
	}
	composeWithURL.byURL[grafanaURL] = p
	return p
}

var etcPath = regexp.MustCompile(`/etc/[A-Za-z0-9._/-]+`)

// files: every configuration file compose mounts into a container is mounted
// into the same component's pod at the same path with the same bytes (the
// Grafana data sources rewritten only where a backend runs elsewhere), nothing
// else appears in a directory compose mounts, and every file a program is told
// to read (its arguments, its environment) is there.
func (c *checker) files() {
	publicURL, _ := valuesAt(c.r, "grafana.publicURL").(string)
	project := c.composeFor(strings.TrimSuffix(publicURL, "/"))
	root := mustAbs(repoRoot)
	for _, w := range workloads(c.r) {
		s, ok := project.Services[w.Name]
		if !ok {
			continue // images() reports it
		}
		for _, ctr := range w.Pod.Spec.Containers {
			at := w.Kind + "/" + w.Name
			view := c.podFiles(at, w.Pod.Spec, ctr)
			c.mounts = map[string]bool{}
			for _, m := range ctr.VolumeMounts {
				if m.SubPath == "" {
					c.mounts[m.MountPath] = true
				}
			}
			for _, vol := range s.Volumes {
				if vol.Type != types.VolumeTypeBind {
					continue
				}
				rel, err := filepath.Rel(root, vol.Source)
				if err != nil || strings.HasPrefix(rel, "..") {
					c.add("%s: compose mounts %s from outside the repository", at, vol.Source)
					continue
				}
				c.sameFiles(at, w.Name, rel, vol.Source, vol.Target, view)
			}
			for _, cfg := range s.Configs {
				want := project.Configs[cfg.Source].Content
				if got, ok := view[cfg.Target]; !ok {
					c.add("%s: compose's %s config is not at %s", at, cfg.Source, cfg.Target)
				} else if got != want {
					c.add("%s: %s differs from compose's %s config (%s)", at, cfg.Target, cfg.Source, diffLine([]byte(got), []byte(want)))
				}
			}
			var told []string
			for _, a := range append(slices.Clone(ctr.Command), ctr.Args...) {
				told = append(told, etcPath.FindAllString(a, -1)...)
			}
			for _, e := range ctr.Env {
				if strings.HasPrefix(e.Value, "/etc/") {
					told = append(told, e.Value)
				}
			}
			for _, p := range told {
				if _, ok := view[p]; !ok {
					c.add("%s: told to read %s, which no volume provides", at, p)
				}
			}
		}
	}
}

// sidecarConfigMaps: for a Grafana outside the chart, the dashboards (the
// repository's bytes) and data sources are ConfigMaps with the labels its
// provisioning sidecar watches.
func (c *checker) sidecarConfigMaps() {
	if enabled(c.r, "grafana") {
		return
	}
	if on, _ := valuesAt(c.r, "grafana.external.sidecarConfigMaps").(bool); !on {
		return
	}
	dashLabel, _ := valuesAt(c.r, "grafana.external.dashboardLabel").(string)
	dsLabel, _ := valuesAt(c.r, "grafana.external.datasourceLabel").(string)
	dashboards, err := filepath.Glob(filepath.Join(repoRoot, "dashboards", "*.json"))
	if err != nil || len(dashboards) == 0 {
		c.add("no dashboards in the repository's dashboards/ (%v)", err)
	}
	found := map[string]bool{}
	for _, cm := range objectsOf[*corev1.ConfigMap](c.r) {
		if cm.Labels[dashLabel] == "1" {
			for k, v := range cm.Data {
				want, err := os.ReadFile(filepath.Join(repoRoot, "dashboards", k))
				if err != nil || v != string(want) {
					c.add("ConfigMap/%s: dashboard %s differs from the repository's (%v)", cm.Name, k, err)
				}
				found[k] = true
			}
		}
		if cm.Labels[dsLabel] == "1" {
			want := expectedDatasources(c.r, string(readRepo(c.t, "deploy/grafana/provisioning/datasources/datasources.yaml")))
			if got := cm.Data["datasources.yaml"]; got != want {
				c.add("ConfigMap/%s: data sources differ from the repository's, rewritten for this release (%s)", cm.Name, diffLine([]byte(got), []byte(want)))
			}
			found["datasources"] = true
		}
	}
	for _, d := range dashboards {
		if !found[filepath.Base(d)] {
			c.add("dashboard %s has no ConfigMap labelled %s for the existing Grafana", filepath.Base(d), dashLabel)
		}
	}
	if !found["datasources"] {
		c.add("no data sources ConfigMap labelled %s for the existing Grafana", dsLabel)
	}
}

// directoryMounted says whether some container of the workload being checked
// mounts a whole volume (no subPath) at target.
func (c *checker) directoryMounted(target string) bool {
	return c.mounts[target]
}

// sameFiles compares what compose mounts from the repository at target with
// what the pod sees there.
func (c *checker) sameFiles(at, component, rel, source, target string, view fileView) {
	st, err := os.Stat(source)
	if err != nil {
		c.add("%s: compose mounts %s: %v", at, rel, err)
		return
	}
	want := map[string]string{}
	if st.IsDir() && !c.directoryMounted(target) {
		c.add("%s: %s is not mounted as a directory: compose mounts the directory %s there, whose changes (an atomic rename of its files) a subPath or per-file mount never sees", at, target, rel)
	}
	if st.IsDir() {
		files, err := configFiles(source)
		if err != nil {
			c.add("%s: %v", at, err)
			return
		}
		for p, content := range files {
			want[path.Join(target, p)] = content
		}
		for p := range view {
			if strings.HasPrefix(p, target+"/") {
				if _, ok := want[p]; !ok {
					c.add("%s: %s is in %s, which compose mounts from %s, but the repository has no such file", at, p, target, rel)
				}
			}
		}
	} else {
		b, err := os.ReadFile(source)
		if err != nil {
			c.add("%s: %v", at, err)
			return
		}
		want[target] = string(b)
	}
	for _, p := range slices.Sorted(maps.Keys(want)) {
		expected := c.rewritten(component, p, want[p])
		got, ok := view[p]
		switch {
		case !ok:
			c.add("%s: %s (compose mounts it from %s) is not in the pod", at, p, rel)
		case got != expected:
			c.add("%s: %s differs from the repository's %s (%s)", at, p, rel, diffLine([]byte(got), []byte(expected)))
		}
	}
}

// rewritten is what the chart must make of a repository file: itself, except
// Grafana's data sources, whose URLs follow backends that run elsewhere.
func (c *checker) rewritten(component, p, content string) string {
	if component != "grafana" || !strings.HasSuffix(p, "/datasources/datasources.yaml") {
		return content
	}
	return expectedDatasources(c.r, content)
}

// expectedDatasources rewrites the repository's data sources for a release:
// a backend outside the chart is reached at its query URL; a Grafana outside
// the chart reaches the chart's backends by their full names.
func expectedDatasources(r *release, content string) string {
	backends := []struct{ name, url, external string }{
		{"prometheus", "http://prometheus:9090", "prometheus.external.queryURL"},
		{"jaeger", "http://jaeger:16686", "jaeger.external.queryURL"},
		{"loki", "http://loki:3100", "loki.external.queryURL"},
		{"pyroscope", "http://pyroscope:4040", "pyroscope.external.url"},
	}
	for _, b := range backends {
		line := "url: " + b.url + "\n"
		switch {
		case enabled(r, b.name) && !enabled(r, "grafana"):
			port := b.url[strings.LastIndex(b.url, ":")+1:]
			content = strings.ReplaceAll(content, line, "url: http://"+b.name+"."+namespace+".svc:"+port+"\n")
		case !enabled(r, b.name):
			if ext, _ := valuesAt(r, b.external).(string); ext != "" {
				content = strings.ReplaceAll(content, line, "url: "+strings.TrimSuffix(ext, "/")+"\n")
			}
		}
	}
	return content
}

func mustAbs(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return abs
}
