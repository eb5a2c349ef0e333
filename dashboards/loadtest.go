package dashboards

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// LoadTest follows a run of `shop loadgen` live: its own metrics
// (loadtest/internal/metrics/metrics.go), latency measured from each request's intended start,
// errors by kind, missed starts and sessions, next to the gateway's view.
func LoadTest() *dashboard.DashboardBuilder {
	lg := `service_name="loadgen"`
	ep := `endpoint=~"$endpoint"`
	endpointVar := queryVar("endpoint", "Endpoint", `label_values(`+sel("loadgen_requests_total", lg)+`, endpoint)`, "").
		Description("Route templates the load generator calls.").
		Multi(true).IncludeAll(true).AllValue(".*")
	reqs := func(matchers ...string) string {
		return sel("loadgen_requests_total", append([]string{lg, ep}, matchers...)...)
	}
	bucket := sel("loadgen_request_duration_seconds_bucket", lg, ep)

	b := newBoard("shop-loadtest", "Load test",
		"The load generator's live rate, latency from intended start, errors, missed starts and sessions.", "loadtest").
		vars(envVar(), endpointVar)

	b.row("Now").add(4, 4,
		stat("Requests/s", "reqps", instant(rate("", reqs()), "")),
		stat("Error ratio", "percentunit", instant("("+orZero(rate("", reqs(`outcome!="ok"`)))+") / "+rate("", reqs()), ""),
			base("green"), from(0.001, "orange"), from(0.01, "red")),
		stat("p95 (from intended start)", "s", instant(quantile(0.95, "", bucket), "")),
		stat("p99 (from intended start)", "s", instant(quantile(0.99, "", bucket), "")),
		stat("Missed starts in range", "none", instant(orZero("sum(increase("+sel("loadgen_missed_starts_total", lg)+"[$__range]))"), ""),
			base("green"), from(1, "red")).
			Description("Arrivals not started because -max-concurrency sessions were in flight: the target could not keep up."),
		stat("Sessions in progress", "none", instant("sum("+sel("loadgen_sessions_active", lg)+")", "")),
	)

	b.row("Throughput and errors").add(8, 8,
		timeseries("Requests/s by endpoint", "reqps", q(rate("method, endpoint", reqs()), "{{method}} {{endpoint}}")),
		stacked(timeseries("Requests/s by outcome", "reqps", q(rate("outcome", reqs()), "{{outcome}}"))),
		bars(timeseries("Errors/s by endpoint and kind", "reqps",
			q(orZero(rate("method, endpoint, outcome", reqs(`outcome!="ok"`))), "{{method}} {{endpoint}} {{outcome}}"))).
			Description("outcome: http_4xx, http_5xx, connection_refused, timeout, network_error, bad_response, unexpected_status."),
		timeseries("Load generator vs gateway (requests/s)", "reqps",
			q(rate("", sel("loadgen_requests_total", lg)), "sent by loadgen"),
			q(rate("", sel(httpServer+"_count", `service_name="gateway"`)), "answered by gateway"),
		).Description("The gateway also counts traffic that is not the load generator's."),
		bars(timeseries("Missed starts/s", "ops", q(orZero(rate("", sel("loadgen_missed_starts_total", lg))), "missed starts"))),
		timeseries("Status classes", "reqps", q(rate("status_class", reqs()), "{{status_class}}")),
	)

	b.row("Latency (from intended start: no coordinated omission)").add(12, 8,
		timeseries("Latency percentiles", "s",
			q(quantile(0.5, "", bucket), "p50"),
			q(quantile(0.9, "", bucket), "p90"),
			q(quantile(0.95, "", bucket), "p95"),
			q(quantile(0.99, "", bucket), "p99"),
		),
		timeseries("p95 by endpoint", "s", q(quantile(0.95, "method, endpoint", bucket), "{{method}} {{endpoint}}")),
	).add(24, 8,
		heatmap("Latency heatmap (exemplars open the request's trace)", "s", q("sum by (le) (rate("+bucket+"[$__rate_interval]))", "")),
	)

	b.row("Sessions").add(12, 8,
		stacked(timeseries("Sessions in progress by scenario", "short", q("sum by (scenario) ("+sel("loadgen_sessions_active", lg)+")", "{{scenario}}"))),
		timeseries("Sessions ended/s by scenario and result", "ops",
			q(rate("scenario, result", sel("loadgen_sessions_total", lg)), "{{scenario}} {{result}}")),
	)
	return b.done()
}
