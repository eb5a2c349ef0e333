package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// Service is one service in depth, chosen with $service: RED by route, a
// latency heatmap whose exemplars open traces, every outbound dependency
// (HTTP, gRPC, PostgreSQL, Redis, RabbitMQ), the connection pools and the Go
// runtime of the process that runs it, with links to its traces, logs and
// flame graph.
//
// $process is the OpenTelemetry service.name of the process's runtime
// metrics: the service itself when it runs alone (compose), "shop" when
// `shop all` runs every service in one process (local mode). $instance is the
// process's admin endpoint as the collector scrapes it (client_golang's Go and
// process collectors, job "shop").
func Service() *dashboard.DashboardBuilder {
	svc := `service_name="$service"`
	proc := `service_name="$process"`
	scraped := []string{`job="shop"`, `instance="$instance"`}

	serviceVar := queryVar("service", "Service",
		`label_values(`+sel(spanCalls, `span_kind="SPAN_KIND_SERVER"`)+`, service_name)`, "").
		Description("Services with server spans (HTTP or gRPC).")
	processVar := queryVar("process", "Process",
		`query_result(max by (service_name) (`+sel("go_goroutine_count", svc)+`) or on() max by (service_name) (`+sel("go_goroutine_count", `service_name="shop"`)+`))`,
		`/service_name="([^"]+)"/`).
		Description("The process whose Go runtime metrics describe $service: itself, or \"shop\" when one process runs every service.")
	instanceVar := queryVar("instance", "Admin endpoint",
		`query_result(max by (instance) (`+sel("up", `job="shop"`, `instance=~"$service:.*"`)+`) or on() max by (instance) (`+sel("up", `job="shop"`)+`))`,
		`/instance="([^"]+)"/`).
		Description("The admin endpoint (/metrics) of $service's process as the collector scrapes it: <service>:9464 in compose. Where processes share a host (local mode) nothing names the service, so every endpoint is listed: pick it by port.")

	b := newBoard("shop-service", "Service detail",
		"One service: RED by route, latency with exemplars, outbound calls, pools and runtime.", "service").
		vars(envVar(), serviceVar, processVar, instanceVar).
		faultAnnotations(", as the process of this service read it", proc).
		externalLink("Traces of ${service} (Jaeger)", jaegerSearch("${service}")).
		externalLink("Logs of ${service} (Loki)", lokiLogs("${service}")).
		externalLink("CPU flame graph of ${process} (Pyroscope)", pyroscopeCPU("${process}"))

	b.row("RED").add(6, 4,
		stat("Requests/s", "reqps", instant(serverRate("", svc), "")),
		stat("Error ratio", "percentunit", instant(serverErrorRatio("", svc), ""),
			base("green"), from(0.001, "orange"), from(0.005, "red")),
		stat("p95 latency", "s", instant(serverQuantile(0.95, "", svc), "")),
		stat("p99 latency", "s", instant(serverQuantile(0.99, "", svc), "")),
	).add(12, 8,
		timeseries("Requests by route", "reqps", q(routeRate(svc), "{{route}}")),
		timeseries("Server errors by route (5xx, gRPC faults)", "reqps", q(orZero(routeErrorRate(svc)), "{{route}}")),
		timeseries("p95 latency by route", "s", q(routeQuantile(0.95, svc), "{{route}}")),
		timeseries("p99 latency by route", "s", q(routeQuantile(0.99, svc), "{{route}}")),
		heatmap("Latency heatmap (exemplars open the trace and the flame graph)", "s", q(
			"sum by (le) (rate("+sel(httpServer+"_bucket", svc)+"[$__rate_interval])) or sum by (le) (rate("+sel(rpcServer+"_bucket", svc)+"[$__rate_interval]))", "")).
			Description("Server request duration buckets. The dots are exemplars: requests recorded inside a sampled span. "+
				"Click one of the slowest (top) for its trace in Jaeger, or for the CPU flame graph of exactly that request "+
				"(its span is the process's local root, whose CPU samples carry its span id)."),
		timeseries("Responses by status code", "reqps",
			q(rate("http_response_status_code", sel(httpServer+"_count", svc))+" or "+rate("rpc_response_status_code", sel(rpcServer+"_count", svc)),
				"{{http_response_status_code}}{{rpc_response_status_code}}")),
	)

	b.alertSignalsRow(svc)

	b.row("Spans (span metrics: what Jaeger's Monitor tab shows)").add(12, 8,
		timeseries("Span rate by operation (top 15)", "ops",
			q("topk(15, "+rate("span_kind, span_name", sel(spanCalls, svc))+")", "{{span_kind}} {{span_name}}")),
		timeseries("Span p95 by operation (top 15)", "ms",
			q("topk(15, "+quantile(0.95, "span_name", sel(spanDurationBkt, svc))+")", "{{span_name}}").Exemplar(true)).
			Description("Exemplars on this panel carry the trace id of a span of that duration."),
	)

	b.row("Outbound calls").add(8, 8,
		timeseries("HTTP client calls by dependency", "reqps",
			q(orZero(rate("server_address, server_port, http_request_method, http_response_status_code", sel(httpClient+"_count", svc))),
				"{{http_request_method}} {{server_address}}:{{server_port}} {{http_response_status_code}}")),
		timeseries("HTTP client p95 by dependency", "s",
			q(orZero(quantile(0.95, "server_address, server_port", sel(httpClient+"_bucket", svc))), "{{server_address}}:{{server_port}}")),
		timeseries("HTTP client failures (5xx, transport errors)", "reqps",
			q(orZero(rate("server_address, server_port, http_response_status_code, error_type",
				sel(httpClient+"_count", svc, http5xx))+" or "+
				rate("server_address, server_port, http_response_status_code, error_type", sel(httpClient+"_count", svc, `error_type!=""`))),
				"{{server_address}}:{{server_port}} {{http_response_status_code}} {{error_type}}")),
		timeseries("gRPC client calls by method and status", "reqps",
			q(orZero(rate("rpc_method, rpc_response_status_code", sel(rpcClient+"_count", svc))), "{{rpc_method}} {{rpc_response_status_code}}")),
		timeseries("gRPC client p95 by method", "s",
			q(orZero(quantile(0.95, "rpc_method", sel(rpcClient+"_bucket", svc))), "{{rpc_method}}")),
		bars(timeseries("Circuit breaker transitions", "none",
			q(orZero("sum by (breaker, state) (increase("+sel("shop_circuit_breaker_transitions_total", svc)+"[$__rate_interval]))"), "{{breaker}} → {{state}}"))).
			Description("shop.circuit_breaker.transitions: a breaker opening means a dependency kept failing (internal/resilience)."),
	)

	pg := []string{svc, `db_system_name="postgresql"`}
	pool := func(metric, legend string) *prometheus.DataqueryBuilder {
		return q(orZero("sum("+sel(metric, svc)+")"), legend)
	}
	b.row("PostgreSQL (otelpgx)").add(6, 8,
		timeseries("Database operations by type", "ops",
			q(orZero(rate("pgx_operation_type", sel("db_client_operation_duration_seconds_count", pg...))), "{{pgx_operation_type}}")),
		timeseries("Database operation p95 by type", "s",
			q(orZero(quantile(0.95, "pgx_operation_type", sel("db_client_operation_duration_seconds_bucket", pg...))), "{{pgx_operation_type}}")),
		timeseries("Connection pool", "short",
			pool("pgxpool_acquired_connections", "acquired"),
			pool("pgxpool_idle_connections", "idle"),
			pool("pgxpool_total_connections", "total"),
			pool("pgxpool_max_connections", "max"),
		),
		timeseries("Pool pressure", "short",
			q(orZero(rate("", sel("pgxpool_empty_acquire_total", svc))), "acquires that waited /s"),
			q(orZero(rate("", sel("pgxpool_canceled_acquires_total", svc))), "acquires cancelled /s"),
			q(orZero("sum(rate("+sel("pgxpool_acquire_duration_nanoseconds_total", svc)+"[$__rate_interval])) / sum(rate("+sel("pgxpool_acquires_total", svc)+"[$__rate_interval])) / 1e6"), "mean acquire time (ms)"),
		).Description("An empty acquire found no idle connection and waited: the pool is too small or queries hold connections too long."),
	)

	redis := []string{svc, `db_system="redis"`}
	b.row("Redis (redisotel)").add(6, 8,
		timeseries("Redis commands by status", "ops",
			q(orZero(rate("type, status", sel("db_client_connections_use_time_milliseconds_count", redis...))), "{{type}} {{status}}")).
			Description("status nil is a cache miss (GET of a missing key), not a failure."),
		timeseries("Redis command p95", "ms",
			q(orZero(quantile(0.95, "type", sel("db_client_connections_use_time_milliseconds_bucket", redis...))), "{{type}}")),
		timeseries("Redis pool", "short",
			q(orZero("sum by (state) ("+sel("db_client_connections_usage", redis...)+")"), "{{state}}"),
			q(orZero("sum("+sel("db_client_connections_max", redis...)+")"), "max"),
		),
		timeseries("Redis pool waits and timeouts", "ops",
			q(orZero(rate("", sel("db_client_connections_waits_total", redis...))), "waits/s"),
			q(orZero(rate("", sel("db_client_connections_timeouts_total", redis...))), "timeouts/s"),
		),
	)

	b.row("RabbitMQ and the outbox").add(6, 8,
		timeseries("Published by the outbox relay", "ops",
			q(orZero(rate("routing_key", sel("shop_outbox_published_total", svc))), "{{routing_key}}")),
		timeseries("Consumed by queue and outcome", "ops",
			q(orZero(rate("queue, outcome", sel("shop_messaging_processed_total", svc))), "{{queue}} {{outcome}}")).
			Description("shop.messaging.processed: acked, retried (through the delay queue) or dead_lettered."),
		timeseries("Outbox backlog and publish lag", "short",
			q(orZero("sum("+sel("shop_outbox_pending", svc)+")"), "pending events"),
			q(orZero(quantile(0.95, "", sel("shop_outbox_lag_seconds_bucket", svc))), "p95 lag (s)"),
		),
		timeseries("Messaging spans (producer, consumer)", "ops",
			q(orZero(rate("span_kind, span_name, messaging_destination_name", sel(spanCalls, svc, `span_kind=~"SPAN_KIND_PRODUCER|SPAN_KIND_CONSUMER"`))),
				"{{span_kind}} {{span_name}} {{messaging_destination_name}}")),
	)

	b.row("Runtime (Go) of process $process").add(6, 8,
		timeseries("Goroutines and threads", "short",
			q("sum("+sel("go_goroutine_count", proc)+")", "goroutines"),
			q("sum("+sel("go_threads", scraped...)+")", "OS threads"),
		),
		timeseries("Memory", "bytes",
			q("sum by (go_memory_type) ("+sel("go_memory_used_bytes", proc)+")", "used: {{go_memory_type}}"),
			q("sum("+sel("go_memory_gc_goal_bytes", proc)+")", "GC goal"),
			q("sum("+sel("go_memstats_heap_inuse_bytes", scraped...)+")", "heap in use"),
			q("sum("+sel("process_resident_memory_bytes", scraped...)+")", "resident (RSS)"),
		),
		timeseries("Allocations", "Bps",
			q(rate("", sel("go_memory_allocated_bytes_total", proc)), "bytes allocated/s"),
		),
		timeseries("CPU", "percentunit",
			q(rate("", sel("process_cpu_seconds_total", scraped...)), "CPU (cores)"),
			q("sum("+sel("go_processor_limit", proc)+")", "GOMAXPROCS"),
		).Description("process_cpu_seconds_total from the admin endpoint; 1 = one core busy."),
		timeseries("GC pause (summary quantiles)", "s",
			q("max by (quantile) ("+sel("go_gc_duration_seconds", append(scraped, `quantile=~"0.5|0.75|1"`)...)+")", "p{{quantile}}"),
		),
		timeseries("GC cycles", "ops",
			q(rate("", sel("go_gc_duration_seconds_count", scraped...)), "GC cycles/s"),
		),
		timeseries("File descriptors", "short",
			q("sum("+sel("process_open_fds", scraped...)+")", "open"),
			q("sum("+sel("process_max_fds", scraped...)+")", "limit"),
		),
		timeseries("Allocation count", "ops",
			q(rate("", sel("go_memory_allocations_total", proc)), "allocations/s"),
		),
	)
	return b.done()
}
