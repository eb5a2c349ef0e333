package helm

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/otelshop/shop/internal/app"
)

// The NetworkPolicies are evaluated as a cluster's network plugin would: a
// connection from pod A to port P of pod B is allowed when some policy
// selecting B allows it in and some policy selecting A allows it out (a pod no
// policy of a kind selects is open for that kind). The result, every allowed
// connection between the release's pods and between them and the outside, is
// compared with the call graph built from the Go registry (internal/app).

// outside stands for anything not a pod of the release: clients, other
// namespaces, addresses.
const outside = "outside"

// edge is one allowed connection: from a component to a port of another.
type edge struct {
	From, To string
	Port     int32
	Proto    corev1.Protocol
}

func (e edge) String() string {
	if e.Proto != "" && e.Proto != corev1.ProtocolTCP {
		return fmt.Sprintf("%s -> %s:%d/%s", e.From, e.To, e.Port, e.Proto)
	}
	return fmt.Sprintf("%s -> %s:%d", e.From, e.To, e.Port)
}

// podInfo is a component's pods as the policies see them.
type podInfo struct {
	Name   string
	Labels labels.Set
	Spec   corev1.PodSpec
}

// namespaceLabels are the labels of the release's namespace (the API server sets this one).
var namespaceLabels = labels.Set{"kubernetes.io/metadata.name": namespace}

// peerKind says what a policy peer matches: pods of the release, and/or
// something outside described by a name.
type peerMatch struct {
	pods     []string // release components matched
	external string   // "" when it matches nothing outside
}

// matchPeer resolves a policy peer against the release's pods. External peers
// are named: dns (the cluster DNS selectors), grafana (an existing Grafana's
// selectors), ip:<cidr>, or ns:<selector>.
func (c *checker) matchPeer(peer networkingv1.NetworkPolicyPeer, pods []podInfo) peerMatch {
	var m peerMatch
	if peer.IPBlock != nil {
		m.external = "ip:" + peer.IPBlock.CIDR
		return m
	}
	podSel := labels.Everything()
	if peer.PodSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
		if err != nil {
			c.add("NetworkPolicy peer %v: %v", peer.PodSelector, err)
			return m
		}
		podSel = s
	}
	ours := true
	if peer.NamespaceSelector != nil {
		nsSel, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
		if err != nil {
			c.add("NetworkPolicy peer %v: %v", peer.NamespaceSelector, err)
			return m
		}
		ours = nsSel.Matches(namespaceLabels)
		if !ours || nsSel.Empty() {
			m.external = c.externalName(peer)
		}
	}
	if ours {
		for _, p := range pods {
			if podSel.Matches(p.Labels) {
				m.pods = append(m.pods, p.Name)
			}
		}
	}
	return m
}

// externalName names a peer in other namespaces by what the values say it is.
func (c *checker) externalName(peer networkingv1.NetworkPolicyPeer) string {
	same := func(path string, sel *metav1.LabelSelector) bool {
		want, _ := valuesAt(c.r, path).(map[string]any)
		return selectorEqual(want, sel)
	}
	switch {
	case same("networkPolicy.dns.namespaceSelector", peer.NamespaceSelector) && same("networkPolicy.dns.podSelector", peer.PodSelector):
		return "dns"
	case same("grafana.external.namespaceSelector", peer.NamespaceSelector) && same("grafana.external.podSelector", peer.PodSelector):
		return "grafana"
	}
	return fmt.Sprintf("ns:%v/%v", peer.NamespaceSelector, peer.PodSelector)
}

func selectorEqual(values map[string]any, sel *metav1.LabelSelector) bool {
	if sel == nil {
		return len(values) == 0
	}
	ml, _ := values["matchLabels"].(map[string]any)
	if len(ml) != len(sel.MatchLabels) || len(sel.MatchExpressions) > 0 {
		return false
	}
	for k, v := range sel.MatchLabels {
		if ml[k] != v {
			return false
		}
	}
	return true
}

// portMatches says whether a policy port admits port number n (with the
// named ports of the pod it lands on).
func portMatches(ports []networkingv1.NetworkPolicyPort, n int32, proto corev1.Protocol, dst *podInfo) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		if p.Port == nil {
			return true
		}
		if p.Port.Type == intstr.String {
			if dst == nil {
				continue
			}
			if got, ok := containerPort(dst.Spec, *p.Port, proto); ok && got == n {
				return true
			}
			continue
		}
		end := p.Port.IntVal
		if p.EndPort != nil {
			end = *p.EndPort
		}
		if n >= p.Port.IntVal && n <= end {
			return true
		}
	}
	return false
}

// allowedGraph evaluates the rendered policies: every allowed connection to a
// port a pod of the release listens on, and every allowed connection out of the
// release (to the ports its egress rules name).
func (c *checker) allowedGraph() (both, ingress, egress map[edge]bool, notes []string) {
	pods := c.policyPods()
	policies := objectsOf[*networkingv1.NetworkPolicy](c.r)
	selecting := func(p podInfo, kind networkingv1.PolicyType) []*networkingv1.NetworkPolicy {
		var out []*networkingv1.NetworkPolicy
		for _, np := range policies {
			sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
			if err == nil && sel.Matches(p.Labels) && hasType(np, kind) {
				out = append(out, np)
			}
		}
		return out
	}
	for _, np := range policies {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || !slices.ContainsFunc(pods, func(p podInfo) bool { return sel.Matches(p.Labels) }) {
			c.add("NetworkPolicy/%s: its podSelector %v selects no pod of the release", np.Name, np.Spec.PodSelector)
		}
	}
	// in: may src (a component or outside) reach dst's port?
	in := func(src string, dst podInfo, port int32, proto corev1.Protocol) bool {
		ps := selecting(dst, networkingv1.PolicyTypeIngress)
		if len(ps) == 0 {
			return true
		}
		for _, np := range ps {
			for _, rule := range np.Spec.Ingress {
				if !portMatches(rule.Ports, port, proto, &dst) {
					continue
				}
				if len(rule.From) == 0 {
					return true
				}
				for _, peer := range rule.From {
					m := c.matchPeer(peer, pods)
					if slices.Contains(m.pods, src) || (src == outside && m.external != "") {
						return true
					}
				}
			}
		}
		return false
	}
	// out: may src send to dst's port?
	out := func(src podInfo, dst string, dstPod *podInfo, port int32, proto corev1.Protocol) bool {
		ps := selecting(src, networkingv1.PolicyTypeEgress)
		if len(ps) == 0 {
			return true
		}
		for _, np := range ps {
			for _, rule := range np.Spec.Egress {
				if !portMatches(rule.Ports, port, proto, dstPod) {
					continue
				}
				if len(rule.To) == 0 {
					return true
				}
				for _, peer := range rule.To {
					if slices.Contains(c.matchPeer(peer, pods).pods, dst) {
						return true
					}
				}
			}
		}
		return false
	}
	both, ingress, egress = map[edge]bool{}, map[edge]bool{}, map[edge]bool{}
	for _, dst := range pods {
		for _, ctr := range dst.Spec.Containers {
			for _, cp := range ctr.Ports {
				proto := cp.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				for _, src := range pods {
					if src.Name == dst.Name {
						continue
					}
					e := edge{src.Name, dst.Name, cp.ContainerPort, proto}
					i, o := in(src.Name, dst, cp.ContainerPort, proto), out(src, dst.Name, &dst, cp.ContainerPort, proto)
					ingress[e], egress[e], both[e] = i, o, i && o
				}
				if in(outside, dst, cp.ContainerPort, proto) {
					e := edge{outside, dst.Name, cp.ContainerPort, proto}
					ingress[e], both[e] = true, true
				}
			}
		}
	}
	for _, m := range []map[edge]bool{both, ingress, egress} {
		maps.DeleteFunc(m, func(_ edge, v bool) bool { return !v })
	}
	// Out of the release: what each pod's egress rules allow to external peers.
	for _, src := range pods {
		ps := selecting(src, networkingv1.PolicyTypeEgress)
		if len(ps) == 0 {
			notes = append(notes, src.Name+" has no egress policy: it may connect anywhere")
			continue
		}
		for _, np := range ps {
			for _, rule := range np.Spec.Egress {
				var externals []string
				if len(rule.To) == 0 {
					externals = append(externals, "anywhere")
				}
				for _, peer := range rule.To {
					if m := c.matchPeer(peer, pods); m.external != "" {
						externals = append(externals, m.external)
					}
				}
				for _, ext := range externals {
					if len(rule.Ports) == 0 {
						both[edge{src.Name, ext, 0, corev1.ProtocolTCP}] = true
						egress[edge{src.Name, ext, 0, corev1.ProtocolTCP}] = true
					}
					for _, p := range rule.Ports {
						proto := corev1.ProtocolTCP
						if p.Protocol != nil {
							proto = *p.Protocol
						}
						n := int32(0)
						if p.Port != nil {
							n = p.Port.IntVal
						}
						both[edge{src.Name, ext, n, proto}] = true
						egress[edge{src.Name, ext, n, proto}] = true
					}
				}
			}
		}
	}
	return both, ingress, egress, notes
}

func hasType(np *networkingv1.NetworkPolicy, kind networkingv1.PolicyType) bool {
	if len(np.Spec.PolicyTypes) == 0 {
		return kind == networkingv1.PolicyTypeIngress || len(np.Spec.Egress) > 0
	}
	return slices.Contains(np.Spec.PolicyTypes, kind)
}

func (c *checker) policyPods() []podInfo {
	var out []podInfo
	for _, w := range workloads(c.r) {
		out = append(out, podInfo{w.Name, labels.Set(w.Pod.Labels), w.Pod.Spec})
	}
	return out
}

// callGraph is every connection the platform needs, from the registry and the
// values: who calls whom (and users, for tokens), stores, telemetry, DNS.
func (c *checker) callGraph() map[edge]bool {
	g := map[edge]bool{}
	tcp := func(from, to string, port int) { g[edge{from, to, int32(port), corev1.ProtocolTCP}] = true }
	external := func(key string) string {
		cidr, _ := valuesAt(c.r, key).(string)
		return "ip:" + cidr
	}
	ext := external("networkPolicy.externalCIDR")
	storePorts := map[string]int{"postgres": 5432, "redis": 6379, "rabbitmq": 5672}
	pyroscopeURL, _ := valuesAt(c.r, "pyroscope.external.url").(string)
	otlpExternal, _ := valuesAt(c.r, "collector.external.endpoint").(string)
	collector := enabled(c.r, "collector")
	for _, d := range app.Registry {
		callees := slices.Clone(d.Calls)
		if d.Name != "users" && !slices.Contains(callees, "users") {
			callees = append(callees, "users")
		}
		for _, callee := range callees {
			def, _ := app.Lookup(callee)
			tcp(d.Name, callee, def.Port)
		}
		for _, s := range d.Stores {
			if enabled(c.r, string(s)) {
				tcp(d.Name, string(s), storePorts[string(s)])
			} else {
				port, _ := valuesAt(c.r, string(s)+".external.port").(float64)
				tcp(d.Name, ext, int(port))
			}
		}
		switch {
		case collector:
			tcp(d.Name, "otel-collector", 4317)
			tcp(d.Name, "otel-collector", 4318)
			tcp("otel-collector", d.Name, adminPort)
		case otlpExternal != "":
			port, _ := valuesAt(c.r, "collector.external.port").(float64)
			tcp(d.Name, ext, int(port))
		}
		switch {
		case enabled(c.r, "pyroscope"):
			tcp(d.Name, "pyroscope", 4040)
		case pyroscopeURL != "":
			_, port := hostPort(pyroscopeURL)
			n, _ := strconv.Atoi(port)
			tcp(d.Name, ext, n)
		}
	}
	tcp(outside, "gateway", 8080)
	backendPorts := map[string]int{"prometheus": 9090, "jaeger": 16686, "loki": 3100, "pyroscope": 4040}
	if collector {
		for name, port := range map[string]int{"jaeger": 14317, "prometheus": 9090, "loki": 3100} {
			if enabled(c.r, name) {
				tcp("otel-collector", name, port)
				continue
			}
			key := map[string]string{"jaeger": "jaeger.external.otlpEndpoint", "prometheus": "prometheus.external.otlpURL", "loki": "loki.external.otlpURL"}[name]
			addr, _ := valuesAt(c.r, key).(string)
			_, p := hostPort(addr)
			if !strings.Contains(addr, "://") {
				p = addr[strings.LastIndex(addr, ":")+1:]
			}
			n, _ := strconv.Atoi(p)
			tcp("otel-collector", ext, n)
		}
		apiCIDR := external("networkPolicy.apiServer.cidr")
		ports, _ := valuesAt(c.r, "networkPolicy.apiServer.ports").([]any)
		for _, p := range ports {
			n, _ := p.(float64)
			tcp("otel-collector", apiCIDR, int(n))
		}
	}
	if enabled(c.r, "jaeger") {
		if enabled(c.r, "prometheus") {
			tcp("jaeger", "prometheus", 9090)
		} else if q, _ := valuesAt(c.r, "prometheus.external.queryURL").(string); q != "" {
			_, p := hostPort(q)
			n, _ := strconv.Atoi(p)
			tcp("jaeger", ext, n)
		}
	}
	sidecar, _ := valuesAt(c.r, "grafana.external.sidecarConfigMaps").(bool)
	for name, port := range backendPorts {
		if !enabled(c.r, name) {
			if enabled(c.r, "grafana") {
				key := name + ".external.queryURL"
				if name == "pyroscope" {
					key = "pyroscope.external.url"
				}
				if q, _ := valuesAt(c.r, key).(string); q != "" {
					_, p := hostPort(q)
					n, _ := strconv.Atoi(p)
					tcp("grafana", ext, n)
				}
			}
			continue
		}
		switch {
		case enabled(c.r, "grafana"):
			tcp("grafana", name, port)
		case sidecar:
			tcp(outside, name, port) // the existing Grafana, in another namespace
		}
	}
	if enabled(c.r, "grafana") {
		tcp(outside, "grafana", 3000)
	}
	// Every pod resolves names.
	for _, p := range c.policyPods() {
		g[edge{p.Name, "dns", 53, corev1.ProtocolUDP}] = true
		g[edge{p.Name, "dns", 53, corev1.ProtocolTCP}] = true
	}
	return g
}

// networkPolicies: when on, the policies allow exactly the call graph; and each
// side alone does too (the ingress rules of each pod admit only its callers, the
// egress rules of each pod reach only its callees), so neither side leans on
// the other.
func (c *checker) networkPolicies() {
	on, _ := valuesAt(c.r, "networkPolicy.enabled").(bool)
	if !on {
		if n := len(objectsOf[*networkingv1.NetworkPolicy](c.r)); n > 0 {
			c.add("networkPolicy.enabled is false, yet %d NetworkPolicies are rendered", n)
		}
		return
	}
	both, ingress, egress, notes := c.allowedGraph()
	for _, n := range notes {
		c.add("NetworkPolicies: %s", n)
	}
	want := c.callGraph()
	c.compareGraphs("NetworkPolicies", both, want)
	// Ingress alone: the call graph's connections into pods, and the public
	// entries open to every source (pods included).
	wantIn := map[edge]bool{}
	pods := c.policyPods()
	for e := range want {
		if slices.ContainsFunc(pods, func(p podInfo) bool { return p.Name == e.To }) {
			wantIn[e] = true
		}
		if e.From == outside {
			for _, p := range pods {
				if p.Name != e.To {
					wantIn[edge{p.Name, e.To, e.Port, e.Proto}] = true
				}
			}
		}
	}
	c.compareGraphs("NetworkPolicies' ingress rules", ingress, wantIn)
	wantOut := map[edge]bool{}
	for e := range want {
		if e.From != outside {
			wantOut[e] = true
		}
	}
	c.compareGraphs("NetworkPolicies' egress rules", egress, wantOut)
}

func (c *checker) compareGraphs(what string, allowed, want map[edge]bool) {
	for _, e := range slices.SortedFunc(maps.Keys(allowed), edgeOrder) {
		if !want[e] {
			c.add("%s allow %s, which the call graph does not need", what, e)
		}
	}
	for _, e := range slices.SortedFunc(maps.Keys(want), edgeOrder) {
		if !allowed[e] {
			c.add("%s deny %s, which the call graph needs", what, e)
		}
	}
}

func edgeOrder(a, b edge) int {
	return strings.Compare(a.String(), b.String())
}
