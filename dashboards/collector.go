package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// Collector is the telemetry pipeline's own health: what the OpenTelemetry
// Collector accepted, refused, dropped and exported per signal, its queues and
// its memory (its internal metrics, scraped by its own prometheus receiver,
// job "otelcol"); what the SDKs in the services dropped before it; and
// Prometheus's ingestion after it.
func Collector() *dashboard.DashboardBuilder {
	col := `job="otelcol"`
	signals := []struct{ name, suffix string }{
		{"spans", "spans"}, {"metric points", "metric_points"}, {"log records", "log_records"},
	}
	perSignal := func(metric, by string, zero bool, extra ...string) []*prometheus.DataqueryBuilder {
		var ts []*prometheus.DataqueryBuilder
		for _, s := range signals {
			expr := rate(by, sel("otelcol_"+metric+"_"+s.suffix+"_total", append([]string{col}, extra...)...))
			if zero {
				expr = orZero(expr)
			}
			legend := s.name
			if by != "" {
				legend += " {{" + by + "}}"
			}
			ts = append(ts, q(expr, legend))
		}
		return ts
	}
	anyOf := func(metric string) string {
		expr := ""
		for i, s := range signals {
			if i > 0 {
				expr += " + "
			}
			expr += "(" + orZero(rate("", sel("otelcol_"+metric+"_"+s.suffix+"_total", col))) + ")"
		}
		return expr
	}

	b := newBoard("shop-collector", "Telemetry pipeline",
		"The OpenTelemetry Collector per signal (accepted, refused, dropped, exported), its queues and memory; SDK-side drops; Prometheus ingestion.", "collector").
		vars(envVar())

	b.row("Health").add(4, 4,
		stat("Collector scrape up", "none", instant("max("+sel("up", col)+")", ""), base("red"), from(1, "green")).
			Description("The collector scraping its own metrics endpoint (:8888)."),
		stat("Accepted items/s", "short", instant(anyOf("receiver_accepted"), "")),
		stat("Refused items/s", "short", instant(anyOf("receiver_refused"), ""), base("green"), from(0.001, "red")).
			Description("Receivers answered an error: mostly the memory_limiter pushing back."),
		stat("Export failures/s", "short", instant(anyOf("exporter_send_failed")+" + "+anyOf("exporter_enqueue_failed"), ""),
			base("green"), from(0.001, "red")).
			Description("Items lost at exporters: sending failed after retries, or the queue was full."),
		stat("Memory (RSS)", "bytes", instant("max("+sel("otelcol_process_memory_rss", col)+")", "")),
		stat("Uptime", "s", instant("max("+sel("otelcol_process_uptime_total", col)+")", "")),
	)

	b.row("Per signal").add(8, 8,
		timeseries("Accepted by receivers", "short", perSignal("receiver_accepted", "", false)...),
		timeseries("Refused by receivers", "short", perSignal("receiver_refused", "", true)...),
		timeseries("Exported", "short", perSignal("exporter_sent", "exporter", false)...),
		timeseries("Dropped by processors", "short",
			q(orZero("clamp_min(sum by (otel_signal) (rate("+sel("otelcol_processor_incoming_items_total", col)+"[$__rate_interval])) - sum by (otel_signal) (rate("+sel("otelcol_processor_outgoing_items_total", col)+"[$__rate_interval])), 0)"), "{{otel_signal}}"),
		).Description("Items in minus items out of every processor (memory_limiter refusals show as receiver refusals instead)."),
		timeseries("Lost at exporters: queue full", "short", perSignal("exporter_enqueue_failed", "exporter", true)...),
		timeseries("Lost at exporters: send failed after retries", "short", perSignal("exporter_send_failed", "exporter", true)...),
		timeseries("Refused by the memory limiter", "short", perSignal("processor_memory_limiter_refused", "", true)...),
		timeseries("Receiver failures (internal errors)", "short", perSignal("receiver_failed", "", true)...),
		timeseries("Accepted by receiver and transport", "short", perSignal("receiver_accepted", "receiver", false)...),
	)

	b.row("Queues and batches").add(8, 8,
		timeseries("Exporter queue size and capacity", "short",
			q("sum by (exporter, data_type) ("+sel("otelcol_exporter_queue_size", col)+")", "size {{exporter}} {{data_type}}"),
			q("sum by (exporter, data_type) ("+sel("otelcol_exporter_queue_capacity", col)+")", "capacity {{exporter}} {{data_type}}"),
		),
		timeseries("Exporter queue utilisation", "percentunit",
			q("max by (exporter, data_type) ("+sel("otelcol_exporter_queue_size", col)+" / "+sel("otelcol_exporter_queue_capacity", col)+")", "{{exporter}} {{data_type}}"),
		).Min(0).Max(1),
		timeseries("Export requests in flight", "short",
			q("sum by (exporter, data_type) ("+sel("otelcol_exporter_in_flight_requests", col)+")", "{{exporter}} {{data_type}}")),
		timeseries("Batch send size p50 / p95", "short",
			q(quantile(0.5, "", sel("otelcol_processor_batch_batch_send_size_bucket", col)), "p50"),
			q(quantile(0.95, "", sel("otelcol_processor_batch_batch_send_size_bucket", col)), "p95"),
		),
		timeseries("Batches sent by trigger", "ops",
			q(rate("", sel("otelcol_processor_batch_timeout_trigger_send_total", col)), "timeout"),
			q(orZero(rate("", sel("otelcol_processor_batch_batch_size_trigger_send_total", col))), "size"),
		),
	)

	b.row("Resources").add(12, 8,
		timeseries("Collector memory", "bytes",
			q("max("+sel("otelcol_process_memory_rss", col)+")", "RSS"),
			q("max("+sel("otelcol_process_runtime_heap_alloc_bytes", col)+")", "heap allocated"),
			q("max("+sel("otelcol_process_runtime_total_sys_memory_bytes", col)+")", "from the OS"),
		).Description("The memory_limiter refuses data above its limit (OTELCOL_MEMORY_LIMIT_MIB)."),
		timeseries("Collector CPU", "percentunit", q(rate("", sel("otelcol_process_cpu_seconds_total", col)), "cores")),
	)

	sdkErr := `error_type=~".+"`
	b.row("Before the collector: the SDKs in the services").add(8, 8,
		timeseries("Dropped or failed in the SDKs", "short",
			q(orZero(rate("service_name, error_type", sel("otel_sdk_processor_span_processed_total", sdkErr))), "spans {{service_name}} {{error_type}}"),
			q(orZero(rate("service_name, error_type", sel("otel_sdk_processor_log_processed_total", sdkErr))), "logs {{service_name}} {{error_type}}"),
			q(orZero(rate("service_name, error_type", sel("otel_sdk_exporter_span_exported_total", sdkErr))), "span export {{service_name}} {{error_type}}"),
		).Description("queue_full: a batch processor's queue overflowed because the collector was slow or down."),
		timeseries("SDK span queue use", "short",
			q("sum by (service_name) ("+sel("otel_sdk_processor_span_queue_size")+")", "size {{service_name}}"),
			q("sum by (service_name) ("+sel("otel_sdk_processor_span_queue_capacity")+")", "capacity {{service_name}}"),
		),
		timeseries("Spans exported by the SDKs", "short",
			q(rate("service_name", sel("otel_sdk_exporter_span_exported_total")), "{{service_name}}")),
	)

	prom := `job="prometheus"` // Prometheus scrapes itself; no environment label there.
	b.row("After the collector: Prometheus").add(8, 8,
		timeseries("Samples appended/s", "short",
			q("sum(rate(prometheus_tsdb_head_samples_appended_total{"+prom+"}[$__rate_interval]))", "samples"),
			q("sum(rate(prometheus_tsdb_exemplar_exemplars_appended_total{"+prom+"}[$__rate_interval]))", "exemplars"),
		),
		timeseries("Samples rejected/s", "short",
			q("sum(rate(prometheus_tsdb_out_of_order_samples_total{"+prom+"}[$__rate_interval]))", "out of order"),
			q("sum(rate(prometheus_tsdb_out_of_bound_samples_total{"+prom+"}[$__rate_interval]))", "out of bounds"),
			q("sum(rate(prometheus_tsdb_too_old_samples_total{"+prom+"}[$__rate_interval]))", "too old"),
		),
		timeseries("Head series", "short", q("sum(prometheus_tsdb_head_series{"+prom+"})", "series")),
	)
	return b.done()
}
