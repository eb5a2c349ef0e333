package helm

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
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/composefile"
	"github.com/otelshop/shop/internal/service"
)

// adminPort is where every shop process serves /metrics and health (ADMIN_ADDR).
var adminPort = mustPort(app.DefaultAdminAddr)

// telemetryFlush is how long app.Run gives each service's telemetry to flush
// after its servers drained (the shutdown context in internal/app/app.go).
const telemetryFlush = 5 * time.Second

// flagsFileEnv names the flag file every shop process reads (internal/flags).
const flagsFileEnv = "FLAGS_FILE"

// imageUsers is the user each image runs as, read from its build files at that
// tag; the chart runs every pod as that user (never root). The shop's images
// are built here, so their USER lines are read from the Dockerfiles themselves.
var imageUsers = map[string]struct {
	uid, gid int64
	source   string
}{
	"postgres:15-alpine":         {70, 70, "docker-library/postgres 15/alpine*/Dockerfile: addgroup -g 70 postgres, adduser -u 70 (the entrypoint runs as any user owning PGDATA)"},
	"redis:7-alpine":             {999, 1000, "docker-library/redis 7.x/alpine/Dockerfile: addgroup -g 1000 redis, adduser -u 999"},
	"rabbitmq:4.3-alpine":        {100, 101, "docker-library/rabbitmq 4.3/alpine/Dockerfile: addgroup -g 101 rabbitmq, adduser -u 100"},
	"prom/prometheus:v3.12.0":    {65534, 65534, "prometheus/prometheus Dockerfile: USER nobody"},
	"jaegertracing/jaeger:2.0.0": {10001, 10001, "jaegertracing/jaeger cmd/jaeger/Dockerfile: ARG USER_UID=10001, USER ${USER_UID}"},
	"grafana/loki:3.7.2":         {10001, 10001, "grafana/loki cmd/loki/Dockerfile: adduser -u 10001 loki, USER 10001"},
	"grafana/pyroscope:1.18.1":   {10001, 10001, "grafana/pyroscope cmd/pyroscope/Dockerfile: adduser -u 10001 pyroscope, USER pyroscope"},
	"grafana/grafana:12.2.0":     {472, 472, "grafana/grafana Dockerfile: GF_UID=472 (the Grafana chart runs it as 472:472)"},
}

// builtImages are the images built from this repository, by the Dockerfile
// whose USER line names their user.
var builtImages = map[string]string{
	"otelshop/shop:dev":        "Dockerfile",
	"otelshop/otelcol:0.155.0": "tools/otelcol/Dockerfile",
}

var repoData struct {
	once     sync.Once
	err      error
	compose  *types.Project
	contract string
	users    map[string][2]int64 // image -> uid, gid of the built images
}

// repo loads what the checks compare the chart with: compose.yaml (as docker
// compose reads it), docs/contract.md and the built images' users.
func repo(t *testing.T) *types.Project {
	t.Helper()
	repoData.once.Do(func() {
		repoData.compose, repoData.err = composefile.Load(context.Background(), filepath.Join(repoRoot, "compose.yaml"), nil)
		if repoData.err != nil {
			return
		}
		var b []byte
		if b, repoData.err = os.ReadFile(filepath.Join(repoRoot, "docs", "contract.md")); repoData.err != nil {
			return
		}
		repoData.contract = string(b)
		repoData.users = map[string][2]int64{}
		userLine := regexp.MustCompile(`(?m)^USER\s+(\d+):(\d+)\s*$`)
		for image, dockerfile := range builtImages {
			b, err := os.ReadFile(filepath.Join(repoRoot, dockerfile))
			if err != nil {
				repoData.err = err
				return
			}
			m := userLine.FindSubmatch(b)
			if m == nil {
				repoData.err = fmt.Errorf("%s has no USER uid:gid line", dockerfile)
				return
			}
			uid, _ := strconv.ParseInt(string(m[1]), 10, 64)
			gid, _ := strconv.ParseInt(string(m[2]), 10, 64)
			repoData.users[image] = [2]int64{uid, gid}
		}
	})
	if repoData.err != nil {
		t.Fatal(repoData.err)
	}
	return repoData.compose
}

// problems lists, one sentence each, every way a rendered release breaks the
// platform's rules. The tests fail on any; the mutation test breaks the chart
// and expects the breakage named here.
func problems(t *testing.T, r *release) []string {
	t.Helper()
	c := &checker{t: t, r: r, compose: repo(t)}
	c.objectNames()
	c.selectorsAndLabels()
	c.servicePorts()
	c.podRules()
	c.shopServices()
	c.images()
	c.probes()
	c.disruptionAndScaling()
	c.clientSecrets()
	c.files()
	c.sidecarConfigMaps()
	c.networkPolicies()
	c.scraping()
	return c.problems
}

type checker struct {
	t        *testing.T
	r        *release
	compose  *types.Project
	problems []string
	mounts   map[string]bool // whole-volume mount paths of the container files() is at
}

func (c *checker) add(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// objectNames: every name is one the API server takes, every label valid.
func (c *checker) objectNames() {
	seen := map[string]bool{}
	for _, o := range c.r.Objects {
		key := o.Kind + "/" + o.Name
		if seen[key] {
			c.add("%s rendered twice", key)
		}
		seen[key] = true
		check := validation.IsDNS1123Subdomain
		if o.Kind == "Service" {
			check = validation.IsDNS1035Label
		}
		for _, msg := range check(o.Name) {
			c.add("%s: name: %s", key, msg)
		}
		meta := o.Obj.(metav1.Object)
		for k, v := range meta.GetLabels() {
			for _, msg := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
				c.add("%s: label %s=%s: %s", key, k, v, msg)
			}
		}
		for k, want := range map[string]string{"app.kubernetes.io/instance": releaseName, "app.kubernetes.io/part-of": "shop", "app.kubernetes.io/managed-by": "Helm"} {
			if got := meta.GetLabels()[k]; got != want {
				c.add("%s: label %s is %q, want %q", key, k, got, want)
			}
		}
		if meta.GetLabels()["app.kubernetes.io/name"] == "" {
			c.add("%s: no app.kubernetes.io/name label", key)
		}
		if ns := meta.GetNamespace(); ns != "" && ns != namespace {
			c.add("%s: namespace %s; the release's is %s", key, ns, namespace)
		}
	}
	for _, cm := range objectsOf[*corev1.ConfigMap](c.r) {
		for k := range cm.Data {
			for _, msg := range validation.IsConfigMapKey(k) {
				c.add("ConfigMap/%s: key %s: %s", cm.Name, k, msg)
			}
		}
	}
}

// selectorsAndLabels: each workload selects its own pods; each Service, PDB,
// HPA and spread constraint finds exactly one workload's pods.
func (c *checker) selectorsAndLabels() {
	ws := workloads(c.r)
	for _, w := range ws {
		sel, err := metav1.LabelSelectorAsSelector(w.Selector)
		switch {
		case err != nil || w.Selector == nil || sel.Empty():
			c.add("%s/%s: selector %v selects nothing in particular (%v)", w.Kind, w.Name, w.Selector, err)
		case !sel.Matches(labels.Set(w.Pod.Labels)):
			c.add("%s/%s: selector %s does not match its pod labels %v", w.Kind, w.Name, sel, w.Pod.Labels)
		}
		for _, other := range ws {
			if other.Name != w.Name && sel.Matches(labels.Set(other.Pod.Labels)) {
				c.add("%s/%s: selector %s also matches %s's pods", w.Kind, w.Name, sel, other.Name)
			}
		}
		for _, tsc := range w.Pod.Spec.TopologySpreadConstraints {
			if s, err := metav1.LabelSelectorAsSelector(tsc.LabelSelector); err != nil || !s.Matches(labels.Set(w.Pod.Labels)) {
				c.add("%s/%s: topology spread on %s selects %v, not its own pods", w.Kind, w.Name, tsc.TopologyKey, tsc.LabelSelector)
			}
		}
	}
	for _, s := range objectsOf[*corev1.Service](c.r) {
		if len(s.Spec.Selector) == 0 {
			c.add("Service/%s has no selector", s.Name)
			continue
		}
		if got := selected(ws, labels.SelectorFromSet(s.Spec.Selector)); len(got) != 1 {
			c.add("Service/%s: selector %v selects the pods of %v, want exactly one workload's", s.Name, s.Spec.Selector, got)
		}
	}
	for _, s := range objectsOf[*appsv1.StatefulSet](c.r) {
		if svc, ok := findObject[*corev1.Service](c.r, s.Spec.ServiceName); !ok || svc.Spec.ClusterIP != corev1.ClusterIPNone {
			c.add("StatefulSet/%s: serviceName %q is not a headless Service of the release", s.Name, s.Spec.ServiceName)
		}
	}
	for _, p := range objectsOf[*policyv1.PodDisruptionBudget](c.r) {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if got := selected(ws, sel); err != nil || len(got) != 1 {
			c.add("PodDisruptionBudget/%s: selector %v selects the pods of %v, want exactly one workload's", p.Name, p.Spec.Selector, got)
		}
	}
}

// selected names the workloads whose pods sel matches.
func selected(ws []workload, sel labels.Selector) []string {
	var out []string
	for _, w := range ws {
		if sel.Matches(labels.Set(w.Pod.Labels)) {
			out = append(out, w.Name)
		}
	}
	return out
}

// servicePorts: every Service port reaches a port a container of its pods listens on.
func (c *checker) servicePorts() {
	ws := workloads(c.r)
	for _, s := range objectsOf[*corev1.Service](c.r) {
		names := selected(ws, labels.SelectorFromSet(s.Spec.Selector))
		if len(names) != 1 {
			continue // reported above
		}
		w, _ := findWorkload(c.r, names[0])
		for _, p := range s.Spec.Ports {
			target := p.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(p.Port)
			}
			if _, ok := containerPort(w.Pod.Spec, target, p.Protocol); !ok {
				c.add("Service/%s: port %s (%d) targets %s, which no container of %s listens on", s.Name, p.Name, p.Port, target.String(), w.Name)
			}
			for _, msg := range validation.IsValidPortName(p.Name) {
				c.add("Service/%s: port name %q: %s", s.Name, p.Name, msg)
			}
		}
	}
}

// containerPort resolves a port (number or name) among a pod's containers.
func containerPort(spec corev1.PodSpec, port intstr.IntOrString, proto corev1.Protocol) (int32, bool) {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, ctr := range spec.Containers {
		for _, cp := range ctr.Ports {
			p := cp.Protocol
			if p == "" {
				p = corev1.ProtocolTCP
			}
			if p != proto {
				continue
			}
			if (port.Type == intstr.String && cp.Name == port.StrVal) || (port.Type == intstr.Int && cp.ContainerPort == port.IntVal) {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

// podRules: non-root as its image's user, read-only root, no capabilities,
// seccomp, no API token where none is needed, requests and a memory limit.
func (c *checker) podRules() {
	for _, w := range workloads(c.r) {
		spec := w.Pod.Spec
		where := w.Kind + "/" + w.Name
		psc := spec.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
			c.add("%s: runAsNonRoot is not set", where)
		}
		if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			c.add("%s: seccompProfile is not RuntimeDefault", where)
		}
		if spec.HostNetwork || spec.HostPID || spec.HostIPC {
			c.add("%s: shares the host's namespaces", where)
		}
		if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
			c.add("%s: enableServiceLinks is on (every Service's <NAME>_PORT variables in its environment)", where)
		}
		token := spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken
		if token != (w.Name == "otel-collector") {
			c.add("%s: automountServiceAccountToken is %v; only the collector (which discovers the pods to scrape) needs a token", where, token)
		}
		if token {
			c.tokenRights(where, spec.ServiceAccountName)
		}
		for _, v := range spec.Volumes {
			if v.HostPath != nil {
				c.add("%s: volume %s is a hostPath", where, v.Name)
			}
		}
		if len(spec.InitContainers) > 0 {
			c.add("%s: init containers are not expected (each needs the same checks)", where)
		}
		portNames := map[string]bool{}
		for _, ctr := range spec.Containers {
			at := where + " container " + ctr.Name
			for _, msg := range validation.IsDNS1123Label(ctr.Name) {
				c.add("%s: container name: %s", at, msg)
			}
			for _, p := range ctr.Ports {
				for _, msg := range validation.IsValidPortName(p.Name) {
					c.add("%s: port name %q: %s", at, p.Name, msg)
				}
				if portNames[p.Name] {
					c.add("%s: port name %s used twice in the pod", at, p.Name)
				}
				portNames[p.Name] = true
			}
			if psc != nil {
				c.userOf(at, ctr, psc)
			}
			sc := ctr.SecurityContext
			switch {
			case sc == nil:
				c.add("%s: no securityContext", at)
			default:
				if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
					c.add("%s: allowPrivilegeEscalation is not false", at)
				}
				if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
					c.add("%s: readOnlyRootFilesystem is not true", at)
				}
				if sc.Privileged != nil && *sc.Privileged {
					c.add("%s: privileged", at)
				}
				if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
					c.add("%s: runs as root", at)
				}
				if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
					c.add("%s: capabilities must drop ALL and add none (%v)", at, sc.Capabilities)
				}
			}
			res := ctr.Resources
			mem, memReq, cpu := res.Limits.Memory(), res.Requests.Memory(), res.Requests.Cpu()
			if mem.IsZero() {
				c.add("%s: no memory limit", at)
			}
			if memReq.Cmp(*mem) != 0 {
				c.add("%s: memory request %s differs from its limit %s", at, memReq, mem)
			}
			if cpu.IsZero() {
				c.add("%s: no CPU request", at)
			}
			if want, ok := c.valueMiB(w.Name); ok && mem.Value() != want<<20 {
				c.add("%s: memory limit %s, its values say %d MiB", at, mem, want)
			}
			if gml := envValue(ctr, "GOMEMLIMIT"); gml != "" || isGoImage(ctr.Image) {
				if want := fmt.Sprintf("%dMiB", mem.Value()*85/100>>20); gml != want {
					c.add("%s: GOMEMLIMIT is %q, want %s (85 %% of its %s limit, as compose sets it)", at, gml, want, mem)
				}
			}
			c.writablePaths(at, spec, ctr)
		}
	}
}

// valueMiB is a component's memoryMiB in the release's values.
func (c *checker) valueMiB(component string) (int64, bool) {
	path := component + ".memoryMiB"
	if _, ok := c.r.Values["services"].(map[string]any)[component]; ok {
		path = "services." + path
	}
	if component == "otel-collector" {
		path = "collector.memoryMiB"
	}
	switch v := valuesAt(c.r, path).(type) {
	case float64:
		return int64(v), true
	case int64:
		return v, true
	case int:
		return int64(v), true
	}
	return 0, false
}

// isGoImage says whether an image's main program is Go (GOMEMLIMIT applies).
func isGoImage(image string) bool {
	for _, prefix := range []string{"otelshop/", "prom/prometheus:", "jaegertracing/jaeger:", "grafana/"} {
		if strings.HasPrefix(image, prefix) {
			return true
		}
	}
	return false
}

// userOf: the pod runs as the user its image was built for.
func (c *checker) userOf(at string, ctr corev1.Container, psc *corev1.PodSecurityContext) {
	var uid, gid int64
	if u, ok := repoData.users[ctr.Image]; ok {
		uid, gid = u[0], u[1]
	} else if u, ok := imageUsers[ctr.Image]; ok {
		uid, gid = u.uid, u.gid
	} else {
		c.add("%s: image %s is not in the image user table (deploy/helm/invariants_test.go): read its build files and add it", at, ctr.Image)
		return
	}
	if psc.RunAsUser == nil || *psc.RunAsUser != uid || psc.RunAsGroup == nil || *psc.RunAsGroup != gid {
		c.add("%s: runs as %v:%v, its image's user is %d:%d", at, ptrVal(psc.RunAsUser), ptrVal(psc.RunAsGroup), uid, gid)
	}
	if uid == 0 {
		c.add("%s: its image runs as root", at)
	}
}

func ptrVal[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}

// writablePaths: with a read-only root, whatever a program writes is a volume;
// every volume mounted exists.
func (c *checker) writablePaths(at string, spec corev1.PodSpec, ctr corev1.Container) {
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	mounted := map[string]bool{}
	for _, m := range ctr.VolumeMounts {
		if _, ok := vols[m.Name]; !ok {
			c.add("%s: mounts volume %s, which the pod does not have", at, m.Name)
		}
		mounted[m.MountPath] = true
	}
	if !mounted["/tmp"] {
		c.add("%s: /tmp is not a volume (the root file system is read-only)", at)
	}
}

// tokenRights: the one pod with an API token may only read pods.
func (c *checker) tokenRights(where, account string) {
	if account == "" || account == "default" {
		c.add("%s: mounts the default service account's token", where)
		return
	}
	sa, ok := findObject[*corev1.ServiceAccount](c.r, account)
	if !ok {
		c.add("%s: service account %s is not rendered", where, account)
		return
	}
	_ = sa
	for _, b := range objectsOf[*rbacv1.RoleBinding](c.r) {
		bound := slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool { return s.Kind == "ServiceAccount" && s.Name == account })
		if !bound {
			continue
		}
		if b.RoleRef.Kind != "Role" {
			c.add("RoleBinding/%s: binds %s to a %s, want a namespaced Role", b.Name, account, b.RoleRef.Kind)
			continue
		}
		role, ok := findObject[*rbacv1.Role](c.r, b.RoleRef.Name)
		if !ok {
			c.add("RoleBinding/%s: role %s is not rendered", b.Name, b.RoleRef.Name)
			continue
		}
		for _, rule := range role.Rules {
			for _, verb := range rule.Verbs {
				if !slices.Contains([]string{"get", "list", "watch"}, verb) {
					c.add("Role/%s: allows %s; the collector only reads", role.Name, verb)
				}
			}
			if !slices.Equal(rule.Resources, []string{"pods"}) || !slices.Equal(rule.APIGroups, []string{""}) {
				c.add("Role/%s: covers %v %v; the collector needs pods only", role.Name, rule.APIGroups, rule.Resources)
			}
		}
	}
	for _, b := range objectsOf[*rbacv1.ClusterRoleBinding](c.r) {
		c.add("ClusterRoleBinding/%s: the chart needs no cluster-wide rights", b.Name)
	}
}

func envValue(ctr corev1.Container, name string) string {
	for _, e := range ctr.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func envVar(ctr corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range ctr.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

// shopServices: one Deployment per registered service, running `shop <name>`
// with the environment docs/contract.md and the registry say it reads, graceful
// termination covering the drain, and spread over nodes.
func (c *checker) shopServices() {
	for _, d := range app.Registry {
		dep, ok := findObject[*appsv1.Deployment](c.r, d.Name)
		if !ok {
			c.add("%s: no Deployment", d.Name)
			continue
		}
		spec := dep.Spec.Template.Spec
		if len(spec.Containers) != 1 {
			c.add("Deployment/%s: %d containers, want the service alone", d.Name, len(spec.Containers))
			continue
		}
		ctr := spec.Containers[0]
		if !slices.Equal(ctr.Args, []string{d.Name}) || len(ctr.Command) > 0 {
			c.add("Deployment/%s: runs command %q args %q, want the image's shop with args [%s]", d.Name, ctr.Command, ctr.Args, d.Name)
		}
		if _, ok := containerPort(spec, intstr.FromInt(d.Port), ""); !ok {
			c.add("Deployment/%s: does not listen on its registry port %d", d.Name, d.Port)
		}
		if _, ok := containerPort(spec, intstr.FromInt(adminPort), ""); !ok {
			c.add("Deployment/%s: does not expose its admin port %d", d.Name, adminPort)
		}
		c.env(d, ctr)
		c.composeEnv(d, ctr)
		c.termination(d, spec, ctr)
		if len(spec.TopologySpreadConstraints) == 0 {
			c.add("Deployment/%s: no topology spread constraints", d.Name)
		}
		svc, ok := findObject[*corev1.Service](c.r, d.Name)
		if !ok || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != int32(d.Port) {
			c.add("%s: no Service %s with its one port %d (callers use %s)", d.Name, d.Name, d.Port, d.PeerEnv())
		}
	}
	for _, dep := range objectsOf[*appsv1.Deployment](c.r) {
		if dep.Labels["app.kubernetes.io/component"] == "service" {
			if _, ok := app.Lookup(dep.Name); !ok {
				c.add("Deployment/%s: a shop service the registry (internal/app) does not list", dep.Name)
			}
		}
	}
}

// requiredEnv is what a shop service reads: its listen address, where its
// callees are (users for every service: its tokens and their keys), its stores,
// and the telemetry and identity settings every process reads.
func requiredEnv(d service.Definition) []string {
	env := []string{app.AdminAddrEnv, auth.SecretsDirEnv, "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
		"PYROSCOPE_SERVER_ADDRESS", flagsFileEnv, d.AddrEnv()}
	callees := slices.Clone(d.Calls)
	if d.Name != "users" && !slices.Contains(callees, "users") {
		callees = append(callees, "users")
	}
	for _, name := range callees {
		callee, _ := app.Lookup(name)
		env = append(env, callee.PeerEnv())
	}
	for _, s := range d.Stores {
		env = append(env, storeEnv(s))
	}
	return env
}

// storeEnv is the variable a store's URL is read from (internal/service/stores.go).
func storeEnv(s service.Store) string { return strings.ToUpper(string(s)) + "_URL" }

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func (c *checker) env(d service.Definition, ctr corev1.Container) {
	at := "Deployment/" + d.Name
	defined := map[string]corev1.EnvVar{}
	for _, e := range ctr.Env {
		if _, dup := defined[e.Name]; dup {
			c.add("%s: %s set twice", at, e.Name)
		}
		for _, msg := range validation.IsEnvVarName(e.Name) {
			c.add("%s: env %s: %s", at, e.Name, msg)
		}
		for _, m := range envRef.FindAllStringSubmatch(e.Value, -1) {
			if _, ok := defined[m[1]]; !ok {
				c.add("%s: %s refers to $(%s), which is not set before it", at, e.Name, m[1])
			}
		}
		defined[e.Name] = e
		c.noPlainSecret(at, e)
	}
	for _, name := range requiredEnv(d) {
		if _, ok := defined[name]; !ok {
			c.add("%s: %s not set (docs/contract.md)", at, name)
		}
	}
	// Telemetry: on with an endpoint, or off.
	if e, ok := defined["OTEL_EXPORTER_OTLP_ENDPOINT"]; ok {
		if _, ok := defined["OTEL_EXPORTER_OTLP_PROTOCOL"]; !ok || e.Value == "" {
			c.add("%s: OTEL_EXPORTER_OTLP_ENDPOINT %q without OTEL_EXPORTER_OTLP_PROTOCOL", at, e.Value)
		}
	} else if defined["OTEL_SDK_DISABLED"].Value != "true" {
		c.add("%s: neither OTEL_EXPORTER_OTLP_ENDPOINT nor OTEL_SDK_DISABLED=true", at)
	}
	if v := defined["OTEL_SERVICE_NAME"].Value; v != d.Name {
		c.add("%s: OTEL_SERVICE_NAME is %q, want %q", at, v, d.Name)
	}
	if v := defined[d.AddrEnv()].Value; v != fmt.Sprintf(":%d", d.Port) {
		c.add("%s: %s is %q, want :%d (every interface; the registry's port)", at, d.AddrEnv(), v, d.Port)
	}
	if v := defined[app.AdminAddrEnv].Value; v != fmt.Sprintf(":%d", adminPort) {
		c.add("%s: %s is %q, want :%d", at, app.AdminAddrEnv, v, adminPort)
	}
	c.resourceAttributes(at, d, defined)
	// Peers: by their Service's name and port.
	for _, name := range append(slices.Clone(d.Calls), "users") {
		callee, _ := app.Lookup(name)
		e, ok := defined[callee.PeerEnv()]
		if !ok || name == d.Name {
			continue
		}
		if want := callee.PeerAddress(fmt.Sprintf("%s:%d", name, callee.Port)); e.Value != want {
			c.add("%s: %s is %q, want %q (the %s Service)", at, callee.PeerEnv(), e.Value, want, name)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(defined)) {
		e := defined[key]
		if isAddress(key) && e.Value != "" {
			c.reachable(at, key, e.Value)
		}
	}
	// Stores: only its own, from Secrets.
	for _, s := range []service.Store{service.Postgres, service.Redis, service.RabbitMQ} {
		e, ok := defined[storeEnv(s)]
		switch {
		case !ok:
		case !slices.Contains(d.Stores, s):
			c.add("%s: gets %s, but keeps no data in %s", at, storeEnv(s), s)
		case e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil:
			c.add("%s: %s is a plain value; store URLs (with passwords) come from Secrets", at, storeEnv(s))
		default:
			c.secretKey(at, e.ValueFrom.SecretKeyRef, string(s))
		}
	}
	if f := defined[flagsFileEnv].Value; f != "" && !strings.HasPrefix(f, "/etc/shop/flags/") {
		c.add("%s: %s is %q, not in the flags directory /etc/shop/flags", at, flagsFileEnv, f)
	}
}

// composeEnvExceptions are the variables compose sets that the chart leaves
// out on purpose, with why.
var composeEnvExceptions = map[string]map[string]string{
	"users": {"USERS_URL": "users is the issuer: it needs no address of itself (shop token admin in its pod uses its own loopback)"},
	"gateway": {
		"RATE_LIMIT_RPS":         loadgenBudget,
		"RATE_LIMIT_BURST":       loadgenBudget,
		"LOGIN_RATE_LIMIT_RPS":   loadgenBudget,
		"LOGIN_RATE_LIMIT_BURST": loadgenBudget,
	},
}

const loadgenBudget = "compose raises the per-address budgets for its load generator, hundreds of shoppers behind one address; " +
	"the chart runs no load generator, so the defaults for real clients stand (services.gateway.env sets others)"

// telemetryOffEnv is what the SDK reads only when it exports; with no
// collector the chart sets OTEL_SDK_DISABLED instead.
var telemetryOffEnv = []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
	"OTEL_METRIC_EXPORT_INTERVAL", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BLRP_SCHEDULE_DELAY",
	"BROWSER_TRACES_URL"} // the gateway forwards the storefront's spans to the collector

// composeEnv: every variable compose gives a service, the chart gives it too
// (a setting added to compose and forgotten here fails this).
func (c *checker) composeEnv(d service.Definition, ctr corev1.Container) {
	s, ok := c.compose.Services[d.Name]
	if !ok {
		c.add("%s: compose.yaml has no such service", d.Name)
		return
	}
	off := envValue(ctr, "OTEL_SDK_DISABLED") == "true"
	for _, key := range slices.Sorted(maps.Keys(s.Environment)) {
		if _, ok := envVar(ctr, key); ok {
			continue
		}
		if _, excepted := composeEnvExceptions[d.Name][key]; excepted || (off && slices.Contains(telemetryOffEnv, key)) {
			continue
		}
		c.add("Deployment/%s: compose sets %s, the chart does not", d.Name, key)
	}
}

// resourceAttributes: the Kubernetes resource attributes come from the downward
// API (k8s.deployment.name from the Deployment's own name).
func (c *checker) resourceAttributes(at string, d service.Definition, defined map[string]corev1.EnvVar) {
	attrs := map[string]string{}
	for _, kv := range strings.Split(defined["OTEL_RESOURCE_ATTRIBUTES"].Value, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			attrs[k] = v
		}
	}
	fromField := map[string]string{
		"k8s.namespace.name": "metadata.namespace",
		"k8s.pod.name":       "metadata.name",
		"k8s.node.name":      "spec.nodeName",
	}
	for attr, field := range fromField {
		m := envRef.FindStringSubmatch(attrs[attr])
		if m == nil || m[0] != attrs[attr] {
			c.add("%s: OTEL_RESOURCE_ATTRIBUTES has %s=%q, want $(VAR) of the downward API's %s", at, attr, attrs[attr], field)
			continue
		}
		e := defined[m[1]]
		if e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != field {
			c.add("%s: %s (for %s) is not the downward API's %s", at, m[1], attr, field)
		}
	}
	if attrs["k8s.deployment.name"] != d.Name {
		c.add("%s: k8s.deployment.name=%q, want %q", at, attrs["k8s.deployment.name"], d.Name)
	}
	if attrs["service.namespace"] != "shop" {
		c.add("%s: service.namespace=%q, want shop", at, attrs["service.namespace"])
	}
	env, _ := c.r.Values["environment"].(string)
	if attrs["deployment.environment.name"] != env || defined["DEPLOYMENT_ENVIRONMENT"].Value != env {
		c.add("%s: deployment.environment.name %q and DEPLOYMENT_ENVIRONMENT %q, want the release's environment %q",
			at, attrs["deployment.environment.name"], defined["DEPLOYMENT_ENVIRONMENT"].Value, env)
	}
}

// isAddress says whether a variable names a peer to connect to.
func isAddress(key string) bool {
	for _, suffix := range []string{"_URL", "_TARGET", "_ENDPOINT", "_SERVER_ADDRESS"} {
		if strings.HasSuffix(key, suffix) {
			return true
		}
	}
	return false
}

// reachable: an address in the release names one of its Services at one of its
// ports; anything else must be outside the release (a fully qualified host).
func (c *checker) reachable(at, key, addr string) {
	host, port := hostPort(addr)
	if svc, ok := findObject[*corev1.Service](c.r, host); ok {
		if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return strconv.Itoa(int(p.Port)) == port }) {
			c.add("%s: %s=%s: Service %s has no port %s", at, key, addr, host, port)
		}
		return
	}
	if !strings.Contains(host, ".") {
		c.add("%s: %s=%s: %s is no Service of the release", at, key, addr, host)
	}
}

func hostPort(addr string) (host, port string) {
	if strings.Contains(addr, "://") {
		if u, err := url.Parse(addr); err == nil {
			port = u.Port()
			if port == "" {
				port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
			}
			return u.Hostname(), port
		}
	}
	host, port, _ = net.SplitHostPort(addr)
	return host, port
}

// noPlainSecret: no password in a plain value.
func (c *checker) noPlainSecret(at string, e corev1.EnvVar) {
	if e.ValueFrom != nil {
		return
	}
	if u, err := url.Parse(e.Value); err == nil && u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			c.add("%s: %s holds a password in a plain value", at, e.Name)
		}
	}
	upper := strings.ToUpper(e.Name)
	for _, word := range []string{"PASSWORD", "SECRET_KEY", "TOKEN", "PASS"} {
		if strings.Contains(upper, word) && !strings.HasSuffix(upper, "_DIR") && e.Value != "" {
			c.add("%s: %s is a plain value", at, e.Name)
		}
	}
}

// secretKey: a reference to a Secret the release makes (or an existing one the
// values name), with the key it has.
func (c *checker) secretKey(at string, ref *corev1.SecretKeySelector, store string) {
	if s, ok := findObject[*corev1.Secret](c.r, ref.Name); ok {
		if _, has := s.Data[ref.Key]; !has {
			c.add("%s: Secret %s has no key %s", at, ref.Name, ref.Key)
		}
		return
	}
	if existing, _ := valuesAt(c.r, store+".external.secretName").(string); existing != ref.Name || enabled(c.r, store) {
		c.add("%s: Secret %s is neither rendered nor the existing one %s.external.secretName names", at, ref.Name, store)
	}
}

// termination: the pod leaves the endpoints (preStop), drains its requests
// (service.DrainTimeout) and flushes its telemetry before it is killed.
func (c *checker) termination(d service.Definition, spec corev1.PodSpec, ctr corev1.Container) {
	at := "Deployment/" + d.Name
	var sleep int64
	if ctr.Lifecycle == nil || ctr.Lifecycle.PreStop == nil || ctr.Lifecycle.PreStop.Sleep == nil || ctr.Lifecycle.PreStop.Sleep.Seconds <= 0 {
		c.add("%s: no preStop sleep: the pod would get SIGTERM while still in its Service's endpoints", at)
	} else {
		sleep = ctr.Lifecycle.PreStop.Sleep.Seconds
	}
	need := time.Duration(sleep)*time.Second + service.DrainTimeout + telemetryFlush
	if spec.TerminationGracePeriodSeconds == nil || time.Duration(*spec.TerminationGracePeriodSeconds)*time.Second <= need {
		c.add("%s: terminationGracePeriodSeconds %v does not cover preStop %ds + drain %s + telemetry flush %s",
			at, ptrVal(spec.TerminationGracePeriodSeconds), sleep, service.DrainTimeout, telemetryFlush)
	}
}

// images: every container runs the image compose runs for the same component,
// pinned to a tag or digest.
func (c *checker) images() {
	shopImage := ""
	if s, ok := c.compose.Services["gateway"]; ok {
		shopImage = s.Image
	}
	for _, w := range workloads(c.r) {
		for _, ctr := range w.Pod.Spec.Containers {
			at := w.Kind + "/" + w.Name
			want := ""
			if _, ok := app.Lookup(w.Name); ok {
				want = shopImage
			} else if s, ok := c.compose.Services[w.Name]; ok {
				want = s.Image
			} else {
				c.add("%s: compose.yaml has no service %s to compare it with", at, w.Name)
				continue
			}
			if ctr.Image != want {
				c.add("%s: image %s, compose.yaml runs %s", at, ctr.Image, want)
			}
			if ref := ctr.Image; !strings.Contains(ref, "@sha256:") && (!strings.Contains(ref[strings.LastIndex(ref, "/")+1:], ":") || strings.HasSuffix(ref, ":latest")) {
				c.add("%s: image %s is not pinned to a tag or digest", at, ref)
			}
		}
	}
}

// probes: readiness and liveness on every container, on the real endpoints.
func (c *checker) probes() {
	for _, w := range workloads(c.r) {
		for _, ctr := range w.Pod.Spec.Containers {
			at := w.Kind + "/" + w.Name
			if ctr.ReadinessProbe == nil || ctr.LivenessProbe == nil {
				c.add("%s: readiness %v, liveness %v: both are needed", at, ctr.ReadinessProbe != nil, ctr.LivenessProbe != nil)
				continue
			}
			for kind, p := range map[string]*corev1.Probe{"readiness": ctr.ReadinessProbe, "liveness": ctr.LivenessProbe, "startup": ctr.StartupProbe} {
				if p == nil {
					continue
				}
				if port, ok := probePort(p); ok {
					if _, listens := containerPort(w.Pod.Spec, port, ""); !listens {
						c.add("%s: %s probe on port %s, which the container does not listen on", at, kind, port.String())
					}
				}
			}
			if d, ok := app.Lookup(w.Name); ok {
				c.shopProbes(at, d, w.Pod.Spec, ctr)
				continue
			}
			c.composeProbe(at, w, ctr)
		}
	}
}

func probePort(p *corev1.Probe) (intstr.IntOrString, bool) {
	switch {
	case p.HTTPGet != nil:
		return p.HTTPGet.Port, true
	case p.TCPSocket != nil:
		return p.TCPSocket.Port, true
	case p.GRPC != nil:
		return intstr.FromInt32(p.GRPC.Port), true
	}
	return intstr.IntOrString{}, false
}

// shopProbes: ready is /readyz (its stores reachable) on the service's own port,
// or grpc.health.v1 for a gRPC service; alive is /healthz of its server (the
// admin endpoint's for a gRPC service); the startup probe waits for the same.
func (c *checker) shopProbes(at string, d service.Definition, spec corev1.PodSpec, ctr corev1.Container) {
	port := func(p *corev1.Probe) int32 {
		pp, _ := probePort(p)
		n, _ := containerPort(spec, pp, "")
		return n
	}
	r, l := ctr.ReadinessProbe, ctr.LivenessProbe
	if d.Protocol == service.GRPC {
		if r.GRPC == nil || r.GRPC.Port != int32(d.Port) {
			c.add("%s: readiness is not grpc.health.v1 on port %d", at, d.Port)
		}
		if l.HTTPGet == nil || l.HTTPGet.Path != "/healthz" || port(l) != int32(adminPort) {
			c.add("%s: liveness is not GET /healthz on the admin port %d", at, adminPort)
		}
	} else {
		if r.HTTPGet == nil || r.HTTPGet.Path != "/readyz" || port(r) != int32(d.Port) {
			c.add("%s: readiness is not GET /readyz on its port %d", at, d.Port)
		}
		if l.HTTPGet == nil || l.HTTPGet.Path != "/healthz" || port(l) != int32(d.Port) {
			c.add("%s: liveness is not GET /healthz on its port %d", at, d.Port)
		}
	}
	if s := ctr.StartupProbe; s == nil || s.HTTPGet == nil || l.HTTPGet == nil || s.HTTPGet.Path != l.HTTPGet.Path || port(s) != port(l) {
		c.add("%s: no startup probe on its liveness endpoint: liveness would kill it during migrations", at)
	}
}

// composeProbe: a backend or store is ready by the check compose's healthcheck
// runs in the same image.
func (c *checker) composeProbe(at string, w workload, ctr corev1.Container) {
	s, ok := c.compose.Services[w.Name]
	if !ok || s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 {
		c.add("%s: compose.yaml has no healthcheck of %s to compare its probes with", at, w.Name)
		return
	}
	test := []string(s.HealthCheck.Test[1:])
	r := ctr.ReadinessProbe
	port := func() int32 {
		pp, _ := probePort(r)
		n, _ := containerPort(w.Pod.Spec, pp, "")
		return n
	}
	switch {
	case test[0] == "wget" || strings.HasSuffix(test[0], "/profilecli") || strings.HasSuffix(test[0], "/loki"):
		// An HTTP GET of a URL (wget), or a binary that GETs /ready (profilecli
		// ready --url=..., loki -health: deploy/images_test.go).
		var u *url.URL
		switch {
		case test[0] == "wget":
			u, _ = url.Parse(test[len(test)-1])
		case strings.HasSuffix(test[0], "/profilecli"):
			u, _ = url.Parse(strings.TrimPrefix(test[len(test)-1], "--url=") + "/ready")
		default:
			u, _ = url.Parse("http://127.0.0.1:3100/ready")
		}
		if u == nil || r.HTTPGet == nil || r.HTTPGet.Path != u.Path || strconv.Itoa(int(port())) != u.Port() {
			c.add("%s: readiness %s, compose's healthcheck checks %v", at, describeProbe(r), test)
		}
	case test[0] == "nc":
		if r.TCPSocket == nil || strconv.Itoa(int(port())) != test[len(test)-1] {
			c.add("%s: readiness %s, compose's healthcheck connects to port %s", at, describeProbe(r), test[len(test)-1])
		}
	default:
		if r.Exec == nil || !slices.Equal(r.Exec.Command, test) {
			c.add("%s: readiness %s, compose's healthcheck runs %q", at, describeProbe(r), test)
		}
	}
}

func describeProbe(p *corev1.Probe) string {
	switch {
	case p.HTTPGet != nil:
		return fmt.Sprintf("GET %s on %s", p.HTTPGet.Path, p.HTTPGet.Port.String())
	case p.TCPSocket != nil:
		return "TCP " + p.TCPSocket.Port.String()
	case p.GRPC != nil:
		return fmt.Sprintf("gRPC %d", p.GRPC.Port)
	case p.Exec != nil:
		return fmt.Sprintf("exec %q", p.Exec.Command)
	}
	return "none"
}

// disruptionAndScaling: a PodDisruptionBudget for every workload that still
// lets a node drain; an autoscaler exactly where the values turn one on, owning
// its Deployment's replica count.
func (c *checker) disruptionAndScaling() {
	pdbs := objectsOf[*policyv1.PodDisruptionBudget](c.r)
	for _, w := range workloads(c.r) {
		i := slices.IndexFunc(pdbs, func(p *policyv1.PodDisruptionBudget) bool {
			sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
			return err == nil && sel.Matches(labels.Set(w.Pod.Labels))
		})
		if i < 0 {
			c.add("%s/%s: no PodDisruptionBudget", w.Kind, w.Name)
			continue
		}
		p := pdbs[i]
		switch {
		case p.Spec.MaxUnavailable != nil && p.Spec.MaxUnavailable.IntValue() < 1:
			c.add("PodDisruptionBudget/%s: maxUnavailable %s blocks every eviction (a node never drains)", p.Name, p.Spec.MaxUnavailable)
		case p.Spec.MinAvailable != nil && w.Replicas != nil && p.Spec.MinAvailable.IntValue() >= int(*w.Replicas):
			c.add("PodDisruptionBudget/%s: minAvailable %s of %d blocks every eviction", p.Name, p.Spec.MinAvailable, *w.Replicas)
		}
	}
	hpas := map[string]*autoscalingv2.HorizontalPodAutoscaler{}
	for _, h := range objectsOf[*autoscalingv2.HorizontalPodAutoscaler](c.r) {
		ref := h.Spec.ScaleTargetRef
		dep, ok := findObject[*appsv1.Deployment](c.r, ref.Name)
		if !ok || ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" {
			c.add("HorizontalPodAutoscaler/%s: scales %s %s, which is not a rendered Deployment", h.Name, ref.Kind, ref.Name)
			continue
		}
		hpas[ref.Name] = h
		if dep.Spec.Replicas != nil {
			c.add("Deployment/%s: sets replicas %d although an autoscaler owns the count (each upgrade would reset it)", dep.Name, *dep.Spec.Replicas)
		}
		if len(h.Spec.Metrics) == 0 || h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
			c.add("HorizontalPodAutoscaler/%s: does not scale on CPU", h.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
			c.add("HorizontalPodAutoscaler/%s: replicas %v..%d", h.Name, ptrVal(h.Spec.MinReplicas), h.Spec.MaxReplicas)
		}
	}
	for _, d := range app.Registry {
		on, _ := valuesAt(c.r, "services."+d.Name+".autoscaling.enabled").(bool)
		if _, has := hpas[d.Name]; has != on {
			c.add("%s: autoscaling on in the values is %v, an autoscaler rendered is %v", d.Name, on, has)
		}
		if dep, ok := findObject[*appsv1.Deployment](c.r, d.Name); ok && !on {
			want, _ := valuesAt(c.r, "services."+d.Name+".replicas").(float64)
			if dep.Spec.Replicas == nil || float64(*dep.Spec.Replicas) != want {
				c.add("Deployment/%s: replicas %v, its values say %v", d.Name, ptrVal(dep.Spec.Replicas), want)
			}
		}
	}
}

// clientSecrets: each service's pod has its own client secret and no other
// (users, the issuer, has them all); every secret the chart makes is random
// and long enough for internal/auth.
func (c *checker) clientSecrets() {
	existing, _ := c.r.Values["identity"].(map[string]any)["existingSecret"].(string)
	all := append(app.Names(), auth.AdminClient)
	for _, d := range app.Registry {
		dep, ok := findObject[*appsv1.Deployment](c.r, d.Name)
		if !ok {
			continue
		}
		want := []string{d.Name}
		if d.Name == "users" {
			want = slices.Clone(all)
		}
		slices.Sort(want)
		got := mountedSecretKeys(dep.Spec.Template.Spec)
		var keys []string
		for _, ref := range got {
			name, key, _ := strings.Cut(ref, "/")
			client := strings.TrimSuffix(key, ".secret")
			wantName := client + "-client-secret"
			if existing != "" {
				wantName = existing
			}
			if name != wantName {
				c.add("Deployment/%s: mounts %s; %s's secret is in Secret %s", d.Name, ref, client, wantName)
			}
			keys = append(keys, client)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, want) {
			c.add("Deployment/%s: mounts the client secrets of %v, want %v only", d.Name, keys, want)
		}
		ctr := dep.Spec.Template.Spec.Containers[0]
		dir := envValue(ctr, auth.SecretsDirEnv)
		if !slices.ContainsFunc(ctr.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == dir && m.ReadOnly }) {
			c.add("Deployment/%s: %s=%q is not a read-only mount of its secrets", d.Name, auth.SecretsDirEnv, dir)
		}
	}
	for _, s := range objectsOf[*corev1.Secret](c.r) {
		for k, v := range s.Data {
			if len(strings.TrimSpace(string(v))) < 32 && !strings.HasPrefix(k, "url") {
				c.add("Secret/%s: %s holds %d characters; internal/auth wants at least 32", s.Name, k, len(v))
			}
		}
		if len(s.StringData) > 0 {
			c.add("Secret/%s: stringData (a value from the chart's values?)", s.Name)
		}
	}
	if existing != "" {
		for _, s := range objectsOf[*corev1.Secret](c.r) {
			if strings.HasSuffix(s.Name, "-client-secret") {
				c.add("Secret/%s rendered although identity.existingSecret names the secrets", s.Name)
			}
		}
	}
}

// mountedSecretKeys lists "secret/key" for every Secret key a pod mounts.
func mountedSecretKeys(spec corev1.PodSpec) []string {
	var out []string
	add := func(name string, items []corev1.KeyToPath) {
		if len(items) == 0 {
			out = append(out, name+"/*")
		}
		for _, it := range items {
			out = append(out, name+"/"+it.Key)
		}
	}
	for _, v := range spec.Volumes {
		if v.Secret != nil {
			add(v.Secret.SecretName, v.Secret.Items)
		}
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				if src.Secret != nil {
					add(src.Secret.Name, src.Secret.Items)
				}
			}
		}
	}
	return out
}

func mustPort(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		panic(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		panic(err)
	}
	return n
}

// Every variable the chart is held to giving a service is one docs/contract.md
// documents: requiredEnv comes from the registry, and a name the contract does
// not know is a contract to fix or a check that drifted.
func TestRequiredEnv_IsInTheContract(t *testing.T) {
	repo(t)
	for _, d := range app.Registry {
		for _, name := range requiredEnv(d) {
			if !regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`).MatchString(repoData.contract) {
				t.Errorf("%s: %s is required of its Deployment but docs/contract.md does not mention it", d.Name, name)
			}
		}
	}
}
