package dashboards

import (
	"encoding/json"
	"net/url"
	"regexp"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/grafanapyroscope"
	"github.com/grafana/grafana-foundation-sdk/go/loki"
)

// The shop's RED signals, from the services' own instrumentation: HTTP servers
// (telemetry.HTTPServer: http.server.request.duration by http.route) and the
// inventory gRPC server (otelgrpc: rpc.server.call.duration by rpc.method).
const (
	httpServer       = "http_server_request_duration_seconds"
	rpcServer        = "rpc_server_call_duration_seconds"
	httpClient       = "http_client_request_duration_seconds"
	rpcClient        = "rpc_client_call_duration_seconds"
	spanCalls        = "traces_span_metrics_calls_total"
	spanDurationBkt  = "traces_span_metrics_duration_milliseconds_bucket"
	http5xx          = `http_response_status_code=~"5.."`
	grpcServerErrors = `rpc_response_status_code=~"UNKNOWN|DEADLINE_EXCEEDED|UNIMPLEMENTED|INTERNAL|UNAVAILABLE|DATA_LOSS"`
)

// serverRate is requests per second by `by`, HTTP and gRPC servers together.
func serverRate(by string, matchers ...string) string {
	return rate(by, sel(httpServer+"_count", matchers...)) + " or " + rate(by, sel(rpcServer+"_count", matchers...))
}

// serverErrorRate is failed requests per second (HTTP 5xx, gRPC server-fault codes).
func serverErrorRate(by string, matchers ...string) string {
	return rate(by, sel(httpServer+"_count", append(matchers, http5xx)...)) + " or " +
		rate(by, sel(rpcServer+"_count", append(matchers, grpcServerErrors)...))
}

// serverErrorRatio is failed/all requests by `by`; 0 (not empty) while nothing failed.
func serverErrorRatio(by string, matchers ...string) string {
	total := serverRate(by, matchers...)
	return "(" + serverErrorRate(by, matchers...) + ") / (" + total + ") or 0 * (" + total + ")"
}

// serverQuantile is a latency percentile of HTTP and gRPC servers, in seconds.
func serverQuantile(phi float64, by string, matchers ...string) string {
	return quantile(phi, by, sel(httpServer+"_bucket", matchers...)) + " or " + quantile(phi, by, sel(rpcServer+"_bucket", matchers...))
}

// routeRate relabels HTTP (method + route) and gRPC (method) requests into one "route" label.
func routeRate(matchers ...string) string {
	return `sum by (route) (label_join(rate(` + sel(httpServer+"_count", matchers...) + `[$__rate_interval]), "route", " ", "http_request_method", "http_route"))` +
		` or sum by (route) (label_replace(rate(` + sel(rpcServer+"_count", matchers...) + `[$__rate_interval]), "route", "$1", "rpc_method", "(.*)"))`
}

func routeErrorRate(matchers ...string) string {
	return `sum by (route) (label_join(rate(` + sel(httpServer+"_count", append(matchers, http5xx)...) + `[$__rate_interval]), "route", " ", "http_request_method", "http_route"))` +
		` or sum by (route) (label_replace(rate(` + sel(rpcServer+"_count", append(matchers, grpcServerErrors)...) + `[$__rate_interval]), "route", "$1", "rpc_method", "(.*)"))`
}

func routeQuantile(phi float64, matchers ...string) string {
	return `histogram_quantile(` + ftoa(phi) + `, sum by (route, le) (label_join(rate(` + sel(httpServer+"_bucket", matchers...) + `[$__rate_interval]), "route", " ", "http_request_method", "http_route")))` +
		` or histogram_quantile(` + ftoa(phi) + `, sum by (route, le) (label_replace(rate(` + sel(rpcServer+"_bucket", matchers...) + `[$__rate_interval]), "route", "$1", "rpc_method", "(.*)")))`
}

func ftoa(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// ---- Explore links (Jaeger, Pyroscope, Loki), built from the provisioned datasource uids

// explorePane is one pane of Grafana's Explore URL (the panes parameter).
type explorePane struct {
	Datasource string               `json:"datasource"`
	Queries    []variants.Dataquery `json:"queries"`
	Range      struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"range"`
}

// exploreURL opens Grafana's Explore with one query, named A, on ds. Template
// variables (${service}) stay readable in the URL so Grafana interpolates them.
func exploreURL(ds Datasource, query variants.Dataquery) string {
	pane := explorePane{Datasource: ds.UID, Queries: []variants.Dataquery{query}}
	pane.Range.From, pane.Range.To = "${__from}", "${__to}"
	b, err := json.Marshal(map[string]explorePane{"a": pane})
	if err != nil {
		panic(err) // the SDK's query types always marshal
	}
	// Keep ${var} literal: Grafana interpolates the URL before following it.
	enc := encodedVar.ReplaceAllString(url.QueryEscape(string(b)), "$${$1}")
	return "/explore?schemaVersion=1&orgId=1&panes=" + enc
}

var encodedVar = regexp.MustCompile(`%24%7B([A-Za-z_][A-Za-z0-9_]*)%7D`)

// jaegerSearch lists the service's traces in the environment (a process tag in Jaeger).
func jaegerSearch(service string) string {
	return exploreURL(Jaeger, &JaegerQuery{
		RefId: refID(0), Datasource: cog.ToPtr(Jaeger.ref()),
		QueryType: "search", Service: service, Tags: "deployment.environment.name=${env}",
	})
}

// pyroscopeCPU is the service's CPU flame graph (pyroscope-go uploads as service_name).
func pyroscopeCPU(service string) string {
	return exploreURL(Pyroscope, &grafanapyroscope.Dataquery{
		RefId: cog.ToPtr(refID(0)), Datasource: cog.ToPtr(Pyroscope.ref()),
		QueryType:     cog.ToPtr("profile"),
		ProfileTypeId: "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
		LabelSelector: `{service_name="` + service + `", deployment_environment_name="${env}"}`,
		GroupBy:       []string{},
	})
}

// lokiLogs is the service's logs (Loki's OTLP endpoint makes service.name the service_name label).
func lokiLogs(service string) string {
	return exploreURL(Loki, &loki.Dataquery{
		RefId: cog.ToPtr(refID(0)), Datasource: cog.ToPtr(Loki.ref()),
		QueryType: cog.ToPtr("range"),
		Expr:      `{service_name="` + service + `", deployment_environment_name="${env}"}`,
	})
}

// All is every dashboard the shop provisions.
func All() []*dashboard.DashboardBuilder {
	return []*dashboard.DashboardBuilder{
		Overview(),
		Service(),
		Business(),
		SLO(),
		LoadTest(),
		Collector(),
	}
}
