{{/*
The shop's services as the registry (internal/app) lists them: port, protocol,
the services each calls and the stores it keeps data in. The chart's tests
compare what is rendered from this (ports, environment, NetworkPolicies) with
the Go registry, so a service added there and not here fails them. Every
service but users also calls users, for its tokens and users' public keys.
*/}}
{{- define "shop.registry" -}}
gateway: {port: 8080, protocol: http, calls: [users, catalog, cart, orders, shipping], stores: [redis]}
users: {port: 8081, protocol: http, calls: [], stores: [postgres]}
catalog: {port: 8082, protocol: http, calls: [], stores: [postgres, redis]}
cart: {port: 8083, protocol: http, calls: [catalog], stores: [redis]}
inventory: {port: 8084, protocol: grpc, calls: [], stores: [postgres]}
orders: {port: 8085, protocol: http, calls: [cart, catalog, inventory, payments], stores: [postgres, rabbitmq]}
payments: {port: 8086, protocol: http, calls: [], stores: [postgres]}
shipping: {port: 8087, protocol: http, calls: [], stores: [postgres, rabbitmq]}
{{- end }}

{{/* The admin port every shop process serves /metrics, /healthz and /readyz on. */}}
{{- define "shop.adminPort" -}}9464{{- end }}

{{/* Ports of the stores and backends (their images' defaults, as compose uses them). */}}
{{- define "shop.storePorts" -}}
postgres: 5432
redis: 6379
rabbitmq: 5672
{{- end }}

{{- define "shop.chart" -}}
{{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* Labels of every object of component .name (a dict: root, name, part). */}}
{{- define "shop.labels" -}}
helm.sh/chart: {{ include "shop.chart" .root }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: shop
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ .part }}
{{ include "shop.selectorLabels" . }}
{{- end }}

{{/* The labels a component's Service, PDB and NetworkPolicies select its pods by. */}}
{{- define "shop.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* The shop image: by digest when one is given. */}}
{{- define "shop.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
{{- end }}

{{/* GOMEMLIMIT for a Go program under a limit of . MiB: 85 %, as compose.yaml sets it. */}}
{{- define "shop.gomemlimit" -}}
{{ div (mul (int .) 85) 100 }}MiB
{{- end }}

{{/* Requests and limits from a component's block (memoryMiB, cpu): memory
requested as much as the limit (memory cannot be taken back from a process), CPU
requested and not limited. */}}
{{- define "shop.resources" -}}
requests:
  cpu: {{ .cpu | quote }}
  memory: {{ printf "%dMi" (int .memoryMiB) }}
limits:
  memory: {{ printf "%dMi" (int .memoryMiB) }}
{{- end }}

{{/* The pod-level security context for an image running as .uid (.gid, .fsGroup). */}}
{{- define "shop.podSecurity" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .gid }}
fsGroup: {{ .gid }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Every container's security context. */}}
{{- define "shop.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
{{- end }}

{{/* imagePullSecrets for a pod spec, nothing when there are none (use with `with`). */}}
{{- define "shop.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets -}}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end }}

{{/* Where the shop's services send OTLP: the collector, an external endpoint, or nowhere. */}}
{{- define "shop.otlpEndpoint" -}}
{{- if .Values.collector.enabled -}}
http://otel-collector:4317
{{- else -}}
{{ .Values.collector.external.endpoint }}
{{- end -}}
{{- end }}

{{- define "shop.otlpProtocol" -}}
{{- if .Values.collector.enabled -}}grpc{{- else -}}{{ .Values.collector.external.protocol }}{{- end -}}
{{- end }}

{{/* Where the services push profiles, "" for nowhere. */}}
{{- define "shop.pyroscopeURL" -}}
{{- if .Values.pyroscope.enabled -}}
http://pyroscope:4040
{{- else -}}
{{ .Values.pyroscope.external.url }}
{{- end -}}
{{- end }}

{{/* The Secret (name and key) holding a store's URL: the chart's own, or the external one. */}}
{{- define "shop.storeSecret" -}}
{{- $store := index .root.Values .store -}}
{{- if $store.enabled -}}
name: {{ .store }}-credentials
key: url
{{- else -}}
{{- if not $store.external.secretName -}}
{{- fail (printf "%s.enabled is false: set %s.external.secretName to a Secret holding the store's URL" .store .store) -}}
{{- end -}}
name: {{ $store.external.secretName }}
key: {{ $store.external.secretKey }}
{{- end -}}
{{- end }}

{{/* A password made once: the one already in the cluster's Secret .name (key
.key), else a new random one. `helm template` and dry runs cannot look, so they
show a new one each time; install and upgrade keep what exists. */}}
{{- define "shop.persistentRandom" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .name -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{ index $existing.data .key | b64dec }}
{{- else -}}
{{ randAlphaNum 43 }}
{{- end -}}
{{- end }}

{{/* The tmp volume every container gets, writable with a read-only root (compose: tmpfs /tmp). */}}
{{- define "shop.tmpVolume" -}}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
{{- end }}

{{/* The NetworkPolicy egress rule to the cluster DNS. */}}
{{- define "shop.dnsEgress" -}}
- to:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .Values.networkPolicy.dns.podSelector | nindent 8 }}
  ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
{{- end }}

{{/* A NetworkPolicy peer for the pods of component . in this release. */}}
{{- define "shop.peer" -}}
- podSelector:
    matchLabels:
      app.kubernetes.io/name: {{ .name }}
      app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* The port of a URL (http://host:port/...), or the scheme's default. */}}
{{- define "shop.urlPort" -}}
{{- $u := urlParse . -}}
{{- $host := $u.host -}}
{{- if regexMatch ":[0-9]+$" $host -}}
{{ regexFind "[0-9]+$" $host }}
{{- else if eq $u.scheme "https" -}}443{{- else -}}80{{- end -}}
{{- end }}

{{/* Grafana's pods as a NetworkPolicy peer: the chart's, or the existing Grafana's (by selector). */}}
{{- define "shop.grafanaPeer" -}}
{{- if .Values.grafana.enabled -}}
{{ include "shop.peer" (dict "root" . "name" "grafana") }}
{{- else -}}
- namespaceSelector:
    {{- toYaml .Values.grafana.external.namespaceSelector | nindent 4 }}
  podSelector:
    {{- toYaml .Values.grafana.external.podSelector | nindent 4 }}
{{- end -}}
{{- end }}
