package dashboards

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// Overview is the shop at a glance: the gateway's golden signals, RED per
// service, how requests flow between services, what fails most, and the
// business numbers. Every service links to its Service detail dashboard.
func Overview() *dashboard.DashboardBuilder {
	gw := `service_name="gateway"`
	toService := dashboardURL("shop-service", "var-service=${__field.labels.service_name}")
	placedPerMin := "sum(rate(" + sel("shop_orders_placed_total") + "[$__rate_interval])) * 60"
	failedPerMin := orZero("sum(rate(" + sel("shop_orders_failed_total") + "[$__rate_interval])) * 60")

	b := newBoard("shop-overview", "Shop overview",
		"RED per service, request flow, top failing routes and business KPIs.", "overview").
		vars(envVar()).
		faultAnnotations("")

	b.row("Gateway (what shoppers see)").add(4, 4,
		stat("Requests/s", "reqps", instant(rate("", sel(httpServer+"_count", gw)), "")).
			Description("Requests the gateway answered per second (http.server.request.duration count)."),
		stat("Server error ratio (5xx)", "percentunit",
			instant("("+orZero(rate("", sel(httpServer+"_count", gw, http5xx)))+") / "+rate("", sel(httpServer+"_count", gw)), ""),
			base("green"), from(0.001, "orange"), from(0.005, "red")).
			Description("Share of gateway answers that were 5xx. The availability SLO allows 0.5 %."),
		stat("p95 latency", "s", instant(quantile(0.95, "", sel(httpServer+"_bucket", gw)), ""),
			base("green"), from(0.25, "orange"), from(0.5, "red")),
		stat("Orders / min", "none", instant(placedPerMin, "")).Decimals(1),
		stat("Revenue in range", "currencyUSD", instant("sum(increase("+sel("shop_orders_revenue_total")+"[$__range])) / 100", "")).
			Description("shop.orders.revenue counts US cents; shown in dollars."),
		stat("Checkout success", "percentunit", instant(
			"sum(rate("+sel("shop_orders_placed_total")+"[$__rate_interval])) / (sum(rate("+sel("shop_orders_placed_total")+"[$__rate_interval])) + "+
				orZero("sum(rate("+sel("shop_orders_failed_total")+"[$__rate_interval]))")+")", ""),
			base("red"), from(0.9, "orange"), from(0.97, "green")).
			Description("Placed / (placed + failed) checkouts. Declines and sold-out items count as failures."),
	)

	b.row("RED per service").add(24, 9,
		table("Services (click a row for its detail)", map[string]string{"A": "Requests/s", "B": "Error ratio", "C": "p50 (s)", "D": "p95 (s)", "E": "p99 (s)"},
			tableQ(serverRate("service_name")),
			tableQ(serverErrorRatio("service_name")),
			tableQ(serverQuantile(0.5, "service_name")),
			tableQ(serverQuantile(0.95, "service_name")),
			tableQ(serverQuantile(0.99, "service_name")),
		).DataLinks(dataLink("Service detail: ${__data.fields.service_name}", dashboardURL("shop-service", "var-service=${__data.fields.service_name}"))).
			Description("Rate, errors and duration of every service's server side (HTTP and gRPC), over the last rate interval."),
	).add(12, 8,
		timeseries("Request rate by service", "reqps", q(serverRate("service_name"), "{{service_name}}")).
			DataLinks(dataLink("Service detail: ${__field.labels.service_name}", toService)),
		timeseries("Error ratio by service (5xx, gRPC faults)", "percentunit", q(serverErrorRatio("service_name"), "{{service_name}}")).
			DataLinks(dataLink("Service detail: ${__field.labels.service_name}", toService)),
	).add(8, 8,
		timeseries("p50 latency by service", "s", q(serverQuantile(0.5, "service_name"), "{{service_name}}")).DataLinks(dataLink("Service detail: ${__field.labels.service_name}", toService)),
		timeseries("p95 latency by service", "s", q(serverQuantile(0.95, "service_name"), "{{service_name}}")).DataLinks(dataLink("Service detail: ${__field.labels.service_name}", toService)),
		timeseries("p99 latency by service", "s", q(serverQuantile(0.99, "service_name"), "{{service_name}}")).DataLinks(dataLink("Service detail: ${__field.labels.service_name}", toService)),
	)

	b.row("Request flow").add(10, 10,
		dependencyGraph("Service dependencies (Jaeger)").
			Description("Who calls whom, from the traces Jaeger holds."),
	).add(14, 10,
		timeseries("Calls between services (client side)", "reqps",
			q(rate("service_name, server_address, server_port", sel(httpClient+"_count")), "HTTP {{service_name}} → {{server_address}}:{{server_port}}"),
			q(orZero(rate("service_name, rpc_method", sel(rpcClient+"_count"))), "gRPC {{service_name}} → {{rpc_method}}"),
			q(orZero(rate("service_name, messaging_destination_name", sel(spanCalls, `span_kind="SPAN_KIND_PRODUCER"`))), "AMQP {{service_name}} → {{messaging_destination_name}}"),
		).Description("Outbound calls per second: otelhttp and otelgrpc client metrics, and the outbox relay's producer spans."),
	)

	// The storefront has no server side: its RED signals are the span metrics
	// of its browsers' spans (services/gateway/storefront/web/src/telemetry.js).
	sf := `service_name="storefront"`
	b.row("Storefront (the shop in browsers)").add(6, 8,
		timeseries("Page loads and clicks per second", "ops",
			q(rate("span_name", sel(spanCalls, sf, `span_kind="SPAN_KIND_INTERNAL"`, `span_name!~"web-vital.*"`)), "{{span_name}}")).
			Description("documentLoad is a page load; the others are the storefront's actions (checkout, add-to-cart, ...), each the root of its trace."),
		timeseries("API calls from browsers, p95 by route", "ms",
			q(quantile(0.95, "span_name", sel(spanDurationBkt, sf, `span_kind="SPAN_KIND_CLIENT"`)), "{{span_name}}")).
			Description("What shoppers wait for: the browsers' fetch spans, from the request to the answer."),
		timeseries("API calls from browsers that failed", "ops",
			q(orZero(rate("span_name", sel(spanCalls, sf, `span_kind="SPAN_KIND_CLIENT"`, `status_code="STATUS_CODE_ERROR"`))), "{{span_name}}")).
			Description("Fetches answered 4xx or 5xx, or not at all: a declined card (402) and a shipment not there yet (404) count too."),
		timeseries("Web vitals, p75", "ms",
			q(quantile(0.75, "span_name", sel(spanDurationBkt, sf, `span_name=~"web-vital (LCP|INP)"`)), "{{span_name}}")).
			Description("Largest Contentful Paint and Interaction to Next Paint as the browsers measure them (web-vitals): each is a span that lasts as long. CLS has no duration: it is an attribute of its span in Jaeger."),
	)

	none := func(label string) string { return `label_replace(vector(0), "` + label + `", "(none)", "", "")` }
	b.row("Top failing").add(8, 9,
		table("Top failing routes: 5xx in range", map[string]string{"A": "Failures"},
			tableQ(`topk(10, sum by (service_name, http_route, http_response_status_code) (increase(`+sel(httpServer+"_count", http5xx)+`[$__range])) > 0) or `+none("http_route"))),
		table("Top rejected routes: 4xx in range", map[string]string{"A": "Rejections"},
			tableQ(`topk(10, sum by (service_name, http_route, http_response_status_code) (increase(`+sel(httpServer+"_count", `http_response_status_code=~"4.."`)+`[$__range])) > 0) or `+none("http_route"))).
			Description("Client errors: bad input, 401, and the business refusals (402 declined, 409 sold out)."),
		table("Top failing operations: error spans in range", map[string]string{"A": "Error spans"},
			tableQ(`topk(10, sum by (service_name, span_name) (increase(`+sel(spanCalls, `status_code="STATUS_CODE_ERROR"`)+`[$__range])) > 0) or `+none("span_name"))).
			Description("Spans with status Error, from the span metrics connector: client, database and messaging spans too."),
	)

	b.row("Business at a glance").add(8, 8,
		timeseries("Orders per minute", "none",
			q(placedPerMin, "placed"),
			q(failedPerMin, "failed"),
		).DataLinks(dataLink("Business dashboard", dashboardURL("shop-business"))),
		timeseries("Revenue per minute (USD)", "currencyUSD", q("sum(rate("+sel("shop_orders_revenue_total")+"[$__rate_interval])) * 60 / 100", "revenue")).
			DataLinks(dataLink("Business dashboard", dashboardURL("shop-business"))),
		timeseries("Payments per minute by outcome", "none", q("sum by (outcome) (rate("+sel("shop_payments_charges_total")+"[$__rate_interval])) * 60", "{{outcome}}")).
			DataLinks(dataLink("Business dashboard", dashboardURL("shop-business"))),
	)

	b.faultsRow()
	return b.done()
}
