package helm

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// mutation is one way to break the chart: a text edit of one of its files, and
// what the checks must then say. The edit must apply, so a mutation cannot
// pass by no longer matching the chart.
type mutation struct {
	name      string
	file      string // relative to the chart
	old, new  string
	all       bool   // replace every occurrence, not just the first
	values    string // rendered with these values instead of the defaults
	want      string // a problem (or the render error) must contain this
	wantError bool   // the render itself must fail with want
	// refusal: values the repository's chart refuses with want (the schema
	// test's cases); the mutated chart must let them through.
	refusal bool
}

var mutations = []mutation{
	// The pods' rules.
	{name: "root file system writable", file: "templates/_helpers.tpl",
		old: "readOnlyRootFilesystem: true", new: "readOnlyRootFilesystem: false",
		want: "gateway container gateway: readOnlyRootFilesystem is not true"},
	{name: "capabilities kept", file: "templates/_helpers.tpl",
		old: "drop: [ALL]", new: "drop: [NET_RAW]",
		want: "capabilities must drop ALL"},
	{name: "seccomp unconfined", file: "templates/_helpers.tpl",
		old: "type: RuntimeDefault", new: "type: Unconfined",
		want: "seccompProfile is not RuntimeDefault"},
	{name: "postgres as root", file: "templates/stores.yaml",
		old: `(dict "uid" 70 "gid" 70)`, new: `(dict "uid" 0 "gid" 0)`,
		want: "StatefulSet/postgres container postgres: runs as 0:0, its image's user is 70:70"},
	{name: "API token in the shop's pods", file: "templates/shop.yaml",
		old: "      automountServiceAccountToken: false\n", new: "      automountServiceAccountToken: true\n",
		want: "Deployment/orders: automountServiceAccountToken is true"},
	{name: "collector may delete pods", file: "templates/collector.yaml",
		old: "verbs: [get, list, watch]", new: "verbs: [get, list, watch, delete]",
		want: "Role/otel-collector: allows delete"},
	{name: "service links on", file: "templates/shop.yaml",
		old: "enableServiceLinks: false", new: "enableServiceLinks: true",
		want: "enableServiceLinks is on"},
	// Resources, from compose's measurements.
	{name: "no memory limit", file: "templates/_helpers.tpl",
		old: "limits:\n  memory: {{ printf \"%dMi\" (int .memoryMiB) }}", new: "limits: {}",
		want: "container users: no memory limit"},
	{name: "GOMEMLIMIT not 85 %", file: "templates/_helpers.tpl",
		old: "(mul (int .) 85)", new: "(mul (int .) 95)",
		want: "GOMEMLIMIT is \"102MiB\", want 91MiB"},
	{name: "a limit that is not compose's", file: "values.yaml",
		old: "memoryMiB: 108 # compose.yaml gateway", new: "memoryMiB: 128 # compose.yaml gateway",
		want: "gateway: memory limit 128 MiB, compose.yaml's is 108 MiB"},
	// Images.
	{name: "an image compose does not run", file: "values.yaml",
		old: "image: prom/prometheus:v3.12.0", new: "image: prom/prometheus:v3.11.0",
		want: "StatefulSet/prometheus: image prom/prometheus:v3.11.0, compose.yaml runs prom/prometheus:v3.12.0"},
	// Probes.
	{name: "readiness that ignores the stores", file: "templates/shop.yaml",
		old: "httpGet: {path: /readyz, port: {{ $portName }}}", new: "httpGet: {path: /healthz, port: {{ $portName }}}",
		want: "Deployment/catalog: readiness is not GET /readyz on its port 8082"},
	{name: "inventory probed by TCP", file: "templates/shop.yaml",
		old: "grpc: {port: {{ $port }}}", new: "tcpSocket: {port: {{ $port }}}",
		want: "Deployment/inventory: readiness is not grpc.health.v1 on port 8084"},
	{name: "Prometheus probed elsewhere than compose probes it", file: "templates/prometheus.yaml",
		old: "readinessProbe:\n            httpGet: {path: /-/ready, port: http}", new: "readinessProbe:\n            httpGet: {path: /-/healthy, port: http}",
		want: "StatefulSet/prometheus: readiness GET /-/healthy on http, compose's healthcheck checks"},
	// Selectors and ports.
	{name: "a Service that selects no pod", file: "templates/shop.yaml",
		old:  "  selector:\n    {{- include \"shop.selectorLabels\" $labels | nindent 4 }}\n  ports:\n    - name: {{ $portName }}",
		new:  "  selector:\n    app.kubernetes.io/name: {{ $name }}-pods\n  ports:\n    - name: {{ $portName }}",
		want: "Service/payments: selector map[app.kubernetes.io/name:payments-pods] selects the pods of [], want exactly one workload's"},
	{name: "a Service port to nowhere", file: "templates/shop.yaml",
		old: "      targetPort: {{ $portName }}", new: "      targetPort: {{ $portName }}-x",
		want: "Service/shipping: port http (8087) targets http-x, which no container of shipping listens on"},
	// The environment of docs/contract.md.
	{name: "no USERS_URL", file: "templates/shop.yaml",
		old: `{{- $callees = append $callees "users" | uniq }}`, new: "",
		want: "Deployment/cart: USERS_URL not set"},
	{name: "a callee's wrong port", file: "templates/shop.yaml",
		old: `value: {{ printf "http://%s:%d" $callee (int $cdef.port) | quote }}`, new: `value: {{ printf "http://%s:%d" $callee (add1 (int $cdef.port)) | quote }}`,
		want: `Deployment/orders: PAYMENTS_URL is "http://payments:8087", want "http://payments:8086"`},
	{name: "a store URL from a key the Secret lacks", file: "templates/_helpers.tpl",
		old: "name: {{ .store }}-credentials\nkey: url", new: "name: {{ .store }}-credentials\nkey: uri",
		want: "Secret postgres-credentials has no key uri"},
	{name: "pod name not from the downward API", file: "templates/shop.yaml",
		old: "valueFrom: {fieldRef: {fieldPath: metadata.name}}", new: "valueFrom: {fieldRef: {fieldPath: metadata.uid}}",
		want: "K8S_POD_NAME (for k8s.pod.name) is not the downward API's metadata.name"},
	// Graceful termination.
	{name: "no preStop", file: "values.yaml",
		old: "preStopSleepSeconds: 5", new: "preStopSleepSeconds: 0",
		want: "Deployment/gateway: no preStop sleep"},
	{name: "grace period shorter than the drain", file: "values.yaml",
		old: "terminationGracePeriodSeconds: 25", new: "terminationGracePeriodSeconds: 18",
		want: "terminationGracePeriodSeconds 18 does not cover preStop 5s + drain 10s"},
	// Disruptions and scaling.
	{name: "a PDB that blocks every drain", file: "templates/shop.yaml",
		old: "maxUnavailable: {{ $.Values.shop.maxUnavailable }}", new: "maxUnavailable: 0",
		want: "PodDisruptionBudget/orders: maxUnavailable 0 blocks every eviction"},
	{name: "replicas fighting the autoscaler", file: "templates/shop.yaml",
		old: "  {{- if not $autoscaled }}\n  replicas: {{ $svc.replicas }}\n  {{- end }}", new: "  replicas: {{ $svc.replicas }}",
		want: "Deployment/cart: sets replicas 1 although an autoscaler owns the count"},
	// Secrets.
	{name: "every client secret in every pod", file: "templates/shop.yaml",
		old: `{{- if eq $name "users" }}
              {{- $clients = append`, new: `{{- if true }}
              {{- $clients = append`,
		want: "Deployment/cart: mounts the client secrets of [admin cart catalog gateway inventory orders payments shipping users], want [cart] only"},
	// The repository's configuration, byte for byte.
	{name: "collector configuration trimmed", file: "templates/collector.yaml",
		old: `config.yaml: {{ .Files.Get "files/otel-collector.yaml" | toJson }}`, new: `config.yaml: {{ .Files.Get "files/otel-collector.yaml" | trim | toJson }}`,
		want: "StatefulSet/otel-collector: /etc/otelcol/config.yaml differs from the repository's otel-collector.yaml"},
	{name: "a rule file left out", file: "templates/prometheus.yaml",
		old: `.Files.Glob "files/prometheus/rules/*.yml"`, new: `.Files.Glob "files/prometheus/rules/slo*.yml"`,
		want: "/etc/prometheus/rules/shop.yml (compose mounts it from deploy/prometheus) is not in the pod"},
	{name: "dashboards left out", file: "templates/grafana.yaml",
		old: `.Files.Glob "files/dashboards/*.json"`, new: `.Files.Glob "files/dashboards/shop-o*.json"`,
		want: "/var/lib/grafana/dashboards/shop-slo.json (compose mounts it from dashboards) is not in the pod"},
	{name: "flags mounted as a file", file: "templates/shop.yaml",
		old: "- {name: flags, mountPath: /etc/shop/flags, readOnly: true}", new: "- {name: flags, mountPath: /etc/shop/flags/shop.flags.json, subPath: shop.flags.json, readOnly: true}",
		want: "Deployment/users: /etc/shop/flags is not mounted as a directory"},
	{name: "Jaeger UI links not pointed at Grafana", file: "templates/backends.yaml",
		old: `replace "${GRAFANA_URL:-http://127.0.0.1:3000}" (trimSuffix "/" .Values.grafana.publicURL)`, new: `replace "${GRAFANA_URL:-http://127.0.0.1:3000}" "http://grafana:3000"`,
		want: "/etc/jaeger/ui-config.json differs from compose's jaeger-ui config"},
	// The network: the call graph, exactly.
	{name: "admin ports open to all", file: "templates/networkpolicies.yaml",
		old:  "    - from:\n        {{- include \"shop.peer\" (dict \"root\" $root \"name\" \"otel-collector\") | nindent 8 }}\n      ports: [{protocol: TCP, port: {{ $admin }}}]",
		new:  "    - ports: [{protocol: TCP, port: {{ $admin }}}]",
		want: "NetworkPolicies allow outside -> cart:9464, which the call graph does not need"},
	{name: "stores out of reach", file: "templates/networkpolicies.yaml",
		old: "      ports: [{protocol: TCP, port: {{ index $storePorts $store }}}]", new: "      ports: [{protocol: TCP, port: 1}]",
		want: "NetworkPolicies deny catalog -> postgres:5432, which the call graph needs"},
	{name: "no DNS for the services", file: "templates/networkpolicies.yaml",
		old: "  egress:\n    {{- include \"shop.dnsEgress\" $root | nindent 4 }}\n    {{- range $callee", new: "  egress:\n    {{- range $callee",
		want: "NetworkPolicies deny shipping -> dns:53/UDP, which the call graph needs"},
	{name: "a store open to every service", file: "templates/networkpolicies.yaml",
		old: "        {{- if has $store $def.stores }}", new: "        {{- if true }}",
		want: "NetworkPolicies' ingress rules allow gateway -> postgres:5432, which the call graph does not need"},
	// Scraping: every replica of every service, once.
	{name: "every collector scrapes every pod", file: "files/otel-collector.kubernetes.yaml",
		old: "            - source_labels: [__tmp_shard]\n              regex: ${env:COLLECTOR_SHARD}\n              action: keep\n", new: "",
		values: "collector: {replicas: 2}",
		want:   "shop pod orders-6d4cf56db6-00001 is scraped by 2 of 2 collectors, want exactly 1"},
	{name: "one collector scrapes everything", file: "files/otel-collector.kubernetes.yaml",
		old: "modulus: {{ .Values.collector.replicas }}", new: "modulus: 1", values: "collector: {replicas: 2}",
		want: "collector replica 1 scrapes no pod"},
	{name: "the service ports scraped too", file: "files/otel-collector.kubernetes.yaml",
		old: "              regex: admin\n", new: "              regex: admin|http\n",
		want: "the collector scrapes gateway-6d4cf56db6-00000's port http"},
	{name: "instance not naming the pod", file: "files/otel-collector.kubernetes.yaml",
		old: "replacement: $${1}:9464", new: "replacement: shop:9464",
		want: `the collector scrapes users-6d4cf56db6-00002 as instance "shop:9464"`},
	// Strict decoding and the schema.
	{name: "a field Kubernetes does not have", file: "templates/shop.yaml",
		old: "          imagePullPolicy: {{ $.Values.image.pullPolicy }}", new: "          imagePullPolicy: {{ $.Values.image.pullPolicy }}\n          restartPolicyy: Always",
		want: `Deployment cart: error unmarshaling JSON: while decoding JSON: json: unknown field "restartPolicyy"`, wantError: true},
	{name: "the schema lets unknown keys through", file: "values.schema.json",
		old: `"additionalProperties": false`, new: `"additionalProperties": true`,
		values: "replicas: 3", want: "additional properties 'replicas' not allowed", refusal: true},
	{name: "the schema lets negative replicas through", file: "values.schema.json",
		old: `"minimum": 1,
          "maximum": 100,
          "description": "pods of the service`, new: `"minimum": -100,
          "maximum": 100,
          "description": "pods of the service`, all: true,
		values: "services: {gateway: {replicas: -1}}", want: "minimum: got -1, want 1", refusal: true},
}

// TestChart_MutationsAreCaught breaks a copy of the chart in one way at a time
// and expects the checks to name the breakage: checks that never fail would
// pass the chart as it is too.
func TestChart_MutationsAreCaught(t *testing.T) {
	if len(mutations) < 10 {
		t.Fatalf("%d mutations, want at least 10", len(mutations))
	}
	src := t.TempDir()
	if err := copyResolved(chartDir, src); err != nil {
		t.Fatal(err)
	}
	// The copy as it is passes: each failure below is its mutation's doing.
	base, err := loadChart(src)
	if err != nil {
		t.Fatal(err)
	}
	if ps := mutationProblems(t, base, nil); len(ps) > 0 {
		t.Fatalf("the unmutated copy has problems: %v", ps)
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := copyResolved(src, dir); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, m.file)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), m.old) {
				t.Fatalf("%s no longer contains %q: update the mutation", m.file, m.old)
			}
			n := 1
			if m.all {
				n = -1
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(b), m.old, m.new, n)), 0o644); err != nil {
				t.Fatal(err)
			}
			ch, err := loadChart(dir)
			if err != nil {
				t.Fatal(err)
			}
			var vals map[string]any
			if m.values != "" {
				v, err := chartutil.ReadValues([]byte(m.values))
				if err != nil {
					t.Fatal(err)
				}
				vals = v.AsMap()
			}
			switch {
			case m.refusal:
				// The schema test expects the repository's chart to refuse these
				// values with want; caught when the mutated chart no longer does.
				if _, err := renderChart(theChart(t), vals, nil); err == nil || !strings.Contains(err.Error(), m.want) {
					t.Fatalf("the repository's chart does not refuse %s with %q: %v", m.values, m.want, err)
				}
				if _, err := renderChart(ch, vals, nil); err != nil && strings.Contains(err.Error(), m.want) {
					t.Errorf("not caught: the mutated chart still refuses %s (%v)", m.values, err)
				}
				return
			case m.wantError:
				if _, err := renderChart(ch, vals, nil); err == nil || !strings.Contains(err.Error(), m.want) {
					t.Errorf("not caught: the render error is %v, want one saying %q", err, m.want)
				}
				return
			}
			ps := mutationProblems(t, ch, vals)
			if !slices.ContainsFunc(ps, func(p string) bool { return strings.Contains(p, m.want) }) {
				t.Errorf("not caught: no problem says %q; got %d:\n%s", m.want, len(ps), strings.Join(ps, "\n"))
			}
		})
	}
}

// mutationProblems renders a chart as the tests render the repository's and
// lists every problem the checks find, a render error included.
func mutationProblems(t *testing.T, ch *chart.Chart, vals map[string]any) []string {
	t.Helper()
	r, err := renderChart(ch, vals, nil)
	if err != nil {
		return []string{"render: " + err.Error()}
	}
	return append(problems(t, r), composeFigureProblems(t, r)...)
}

// copyResolved copies a chart directory, following symbolic links (the files
// they point to are copied), as `helm package` would store them.
func copyResolved(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		st, err := os.Stat(p) // follows links
		if err != nil {
			return err
		}
		if st.IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			if d.Type()&fs.ModeSymlink != 0 {
				// WalkDir does not descend into a linked directory: copy it here.
				target, err := filepath.EvalSymlinks(p)
				if err != nil {
					return err
				}
				return copyResolved(target, dst)
			}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}
