// Package helm holds the shop's Helm chart (shop/) and proves it without a
// cluster: the chart is rendered with Helm's own Go SDK for every documented
// value set, each object is decoded strictly into the Kubernetes API types, and
// what a cluster would run is checked against the repository (the service
// registry, compose.yaml, the configuration files, docs/contract.md).
package helm

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Where the chart and the repository are, from this package's directory.
const (
	chartDir = "shop"
	repoRoot = "../.."
)

// The release the tests render: what `helm install shop deploy/helm/shop -n shop` would make.
const (
	releaseName = "shop"
	namespace   = "shop"
)

// kubeVersion is the cluster version the tests render for (the chart needs 1.30).
const kubeVersion = "v1.31.0"

func init() {
	// Helm's loader logs every symbolic link it follows (the chart's files/
	// link the repository's configuration); the tests check them instead.
	log.SetOutput(io.Discard)
}

// object is one rendered Kubernetes object, decoded into its API type.
type object struct {
	Kind, Name string
	Template   string // the chart template it came from
	Obj        any    // *appsv1.Deployment, *corev1.Service, ...
}

// release is what a chart rendered for one set of values.
type release struct {
	Values  chartutil.Values // the chart's values after merging (.Values)
	Objects []object
	Notes   string
}

// decoders maps apiVersion/kind to a new value of its API type. A kind the
// chart renders that is not here fails the test: every object is decoded.
var decoders = map[string]func() any{
	"v1/ConfigMap":                                    func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                                       func() any { return &corev1.Secret{} },
	"v1/Service":                                      func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                               func() any { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment":                              func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                             func() any { return &appsv1.StatefulSet{} },
	"policy/v1/PodDisruptionBudget":                   func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler":          func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"networking.k8s.io/v1/NetworkPolicy":              func() any { return &networkingv1.NetworkPolicy{} },
	"networking.k8s.io/v1/Ingress":                    func() any { return &networkingv1.Ingress{} },
	"rbac.authorization.k8s.io/v1/Role":               func() any { return &rbacv1.Role{} },
	"rbac.authorization.k8s.io/v1/RoleBinding":        func() any { return &rbacv1.RoleBinding{} },
	"rbac.authorization.k8s.io/v1/ClusterRole":        func() any { return &rbacv1.ClusterRole{} },
	"rbac.authorization.k8s.io/v1/ClusterRoleBinding": func() any { return &rbacv1.ClusterRoleBinding{} },
}

// loadChart loads a chart directory as `helm install` does (following the
// symbolic links in files/).
func loadChart(dir string) (*chart.Chart, error) {
	return loader.Load(dir)
}

var (
	defaultChartOnce sync.Once
	defaultChart     *chart.Chart
	defaultChartErr  error
)

// theChart is the repository's chart, loaded once.
func theChart(t *testing.T) *chart.Chart {
	t.Helper()
	defaultChartOnce.Do(func() { defaultChart, defaultChartErr = loadChart(chartDir) })
	if defaultChartErr != nil {
		t.Fatalf("load the chart: %v", defaultChartErr)
	}
	return defaultChart
}

// readValueFiles merges value files in order, as repeated -f flags do.
func readValueFiles(files ...string) (map[string]any, error) {
	out := map[string]any{}
	for _, f := range files {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			return nil, err
		}
		out = chartutil.CoalesceTables(v.AsMap(), out)
	}
	return out, nil
}

// renderChart renders ch with the user-supplied values vals (nil: the chart's
// defaults), checking them against values.schema.json as Helm does, and decodes
// every object strictly. lookup, when not nil, answers the chart's lookup calls
// as a cluster would.
func renderChart(ch *chart.Chart, vals map[string]any, lookup engine.ClientProvider) (*release, error) {
	if vals == nil {
		vals = map[string]any{}
	}
	caps := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, err
	}
	caps.KubeVersion = *kv
	opts := chartutil.ReleaseOptions{Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true}
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return nil, err
	}
	top, err := chartutil.ToRenderValues(ch, vals, opts, caps)
	if err != nil {
		return nil, err
	}
	var out map[string]string
	if lookup != nil {
		out, err = engine.RenderWithClientProvider(ch, top, lookup)
	} else {
		out, err = engine.Render(ch, top)
	}
	if err != nil {
		return nil, err
	}
	r := &release{}
	if v, ok := top["Values"].(chartutil.Values); ok {
		r.Values = v
	}
	for _, name := range slices.Sorted(maps.Keys(out)) {
		content := out[name]
		if strings.HasSuffix(name, "NOTES.txt") {
			r.Notes = content
			continue
		}
		for _, doc := range slices.Sorted(maps.Values(releaseutil.SplitManifests(content))) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			obj, err := decode(name, []byte(doc))
			if err != nil {
				return nil, err
			}
			r.Objects = append(r.Objects, obj)
		}
	}
	return r, nil
}

// stripComments drops whole-line YAML comments (a document may be only those).
func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// decode reads one manifest strictly into its API type: unknown or duplicate
// fields are errors, as the API server's strict field validation makes them.
func decode(template string, doc []byte) (object, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return object{}, fmt.Errorf("%s: %w\n%s", template, err, doc)
	}
	newObj, ok := decoders[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return object{}, fmt.Errorf("%s: no decoder for %s %s (add its API type to decoders)", template, tm.APIVersion, tm.Kind)
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return object{}, fmt.Errorf("%s: %s %s: %w", template, tm.Kind, objectName(doc), err)
	}
	meta, ok := obj.(metav1.Object)
	if !ok {
		return object{}, fmt.Errorf("%s: %s has no object metadata", template, tm.Kind)
	}
	return object{Kind: tm.Kind, Name: meta.GetName(), Template: template, Obj: obj}, nil
}

// objectName reads metadata.name for an error message.
func objectName(doc []byte) string {
	var m struct {
		Metadata struct{ Name string } `json:"metadata"`
	}
	_ = yaml.Unmarshal(doc, &m)
	return m.Metadata.Name
}

// valueSet is a documented set of values (deploy/helm/testdata/*.yaml, listed
// in the README), or the chart's defaults.
type valueSet struct {
	Name  string
	Files []string
}

// valueSets are every set the chart is proven with.
func valueSets(t *testing.T) []valueSet {
	t.Helper()
	sets := []valueSet{{Name: "defaults"}}
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		sets = append(sets, valueSet{Name: strings.TrimSuffix(filepath.Base(f), ".yaml"), Files: []string{f}})
	}
	return sets
}

func (vs valueSet) values(t *testing.T) map[string]any {
	t.Helper()
	v, err := readValueFiles(vs.Files...)
	if err != nil {
		t.Fatalf("%s: %v", vs.Name, err)
	}
	return v
}

// render renders the repository's chart for a value set.
func render(t *testing.T, vs valueSet) *release {
	t.Helper()
	r, err := renderChart(theChart(t), vs.values(t), nil)
	if err != nil {
		t.Fatalf("render %s: %v", vs.Name, err)
	}
	return r
}

// objects returns the rendered objects of one API type.
func objectsOf[T any](r *release) []T {
	var out []T
	for _, o := range r.Objects {
		if v, ok := o.Obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// workload is a Deployment or StatefulSet with its pod template.
type workload struct {
	Kind, Name string
	Replicas   *int32
	Selector   *metav1.LabelSelector
	Pod        corev1.PodTemplateSpec
}

func workloads(r *release) []workload {
	var out []workload
	for _, d := range objectsOf[*appsv1.Deployment](r) {
		out = append(out, workload{"Deployment", d.Name, d.Spec.Replicas, d.Spec.Selector, d.Spec.Template})
	}
	for _, s := range objectsOf[*appsv1.StatefulSet](r) {
		pod := *s.Spec.Template.DeepCopy()
		// Each claim template is a volume of every pod.
		for _, pvc := range s.Spec.VolumeClaimTemplates {
			pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: pvc.Name,
				VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvc.Name}}})
		}
		out = append(out, workload{"StatefulSet", s.Name, s.Spec.Replicas, s.Spec.Selector, pod})
	}
	slices.SortFunc(out, func(a, b workload) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func findWorkload(r *release, name string) (workload, bool) {
	for _, w := range workloads(r) {
		if w.Name == name {
			return w, true
		}
	}
	return workload{}, false
}

func findObject[T metav1.Object](r *release, name string) (T, bool) {
	for _, o := range objectsOf[T](r) {
		if o.GetName() == name {
			return o, true
		}
	}
	var zero T
	return zero, false
}

// valuesAt reads a value by path (a.b.c) from the merged values.
func valuesAt(r *release, path string) any {
	v, err := r.Values.PathValue(path)
	if err != nil {
		// PathValue only answers leaves; tables are read through Table.
		if tbl, err := r.Values.Table(path); err == nil {
			return tbl.AsMap()
		}
		return nil
	}
	return v
}

func enabled(r *release, component string) bool {
	b, _ := valuesAt(r, component+".enabled").(bool)
	return b
}

// readRepo reads a file of the repository.
func readRepo(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// diffLine names the first line where two texts differ, for a short message.
func diffLine(a, b []byte) string {
	al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y []byte
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if !bytes.Equal(x, y) {
			return fmt.Sprintf("line %d: %q vs %q", i+1, x, y)
		}
	}
	return "same lines, different bytes"
}
