package dashboards

import "fmt"

// The shop's service level objectives, over a rolling 30 days. The alerting
// rules (deploy/prometheus/rules/slo.yml) use the same numbers; the recording
// rules there compute the ratios this dashboard reads
// (service:shop_errors:ratio_rate1h and so on).
const (
	AvailabilityObjective = 0.995 // non-5xx (non-fault) answers
	LatencyObjective      = 0.95  // answers within LatencyThreshold
	LatencyThreshold      = "0.5" // seconds: the "le" bucket of the latency SLI
	sloWindow             = "30d"
)

// SLO shows, per service, the availability and latency SLIs, the error budget
// left in the 30-day window and the burn rates the alerts watch; then the
// gateway's routes, which the alerts page for.
func SLO() Dashboard {
	svc := `service_name="$service"`
	availBudget := 1 - AvailabilityObjective
	latBudget := 1 - LatencyObjective

	serviceVar := queryVar("service", "Service", `label_values(service:shop_requests:rate5m{`+envMatcher+`}, service_name)`, "")
	serviceVar.Description = "Services with server-side SLIs (recorded by deploy/prometheus/rules/slo.yml)."

	total := func(window string) string {
		return "(sum(increase(" + sel(httpServer+"_count", svc) + "[" + window + "])) or sum(increase(" + sel(rpcServer+"_count", svc) + "[" + window + "])))"
	}
	errs := func(window string) string {
		return "(sum(increase(" + sel(httpServer+"_count", svc, http5xx) + "[" + window + "])) or sum(increase(" + sel(rpcServer+"_count", svc, grpcServerErrors) + "[" + window + "])) or vector(0))"
	}
	fast := func(window string) string {
		return "(sum(increase(" + sel(httpServer+"_bucket", svc, `le="`+LatencyThreshold+`"`) + "[" + window + "])) or sum(increase(" + sel(rpcServer+"_bucket", svc, `le="`+LatencyThreshold+`"`) + "[" + window + "])))"
	}
	availSLI := "1 - " + errs(sloWindow) + " / " + total(sloWindow)
	latSLI := fast(sloWindow) + " / " + total(sloWindow)
	budgetLeft := func(badRatio string, budget float64) string {
		return fmt.Sprintf("1 - (%s) / %g", badRatio, budget)
	}
	burn := func(rule, window string, budget float64) Target {
		return q(fmt.Sprintf("sum(%s%s{%s, %s}) / %g", rule, window, envMatcher, svc, budget), window)
	}
	burnSteps := []Step{{Color: "green"}, {Color: "orange", Value: v(1)}, {Color: "red", Value: v(6)}}
	budgetSteps := []Step{{Color: "red"}, {Color: "orange", Value: v(0.25)}, {Color: "green", Value: v(0.5)}}

	b := newBoard("shop-slo", "SLOs",
		fmt.Sprintf("Availability (%.1f %% non-5xx) and latency (%.0f %% within %s s) SLOs over %s: SLIs, error budget, burn rates.",
			AvailabilityObjective*100, LatencyObjective*100, LatencyThreshold, sloWindow), "slo").
		vars(envVar(), serviceVar)

	b.row(fmt.Sprintf("Availability of $service (objective %.1f %%)", AvailabilityObjective*100)).add(6, 4,
		stat("Availability SLI (30d)", "percentunit", instant(availSLI, ""),
			Step{Color: "red"}, Step{Color: "green", Value: v(AvailabilityObjective)}).decimals(3),
		stat("Error budget remaining (30d)", "percentunit", instant(budgetLeft(errs(sloWindow)+" / "+total(sloWindow), availBudget), ""), budgetSteps...),
		stat("Burn rate (1h)", "x", instant(fmt.Sprintf("sum(service:shop_errors:ratio_rate1h{%s, %s}) / %g", envMatcher, svc, availBudget), ""), burnSteps...).decimals(2),
		stat("Burn rate (6h)", "x", instant(fmt.Sprintf("sum(service:shop_errors:ratio_rate6h{%s, %s}) / %g", envMatcher, svc, availBudget), ""), burnSteps...).decimals(2),
	).add(12, 8,
		timeseries("Availability burn rate", "x",
			burn("service:shop_errors:ratio_rate", "5m", availBudget),
			burn("service:shop_errors:ratio_rate", "1h", availBudget),
			burn("service:shop_errors:ratio_rate", "6h", availBudget),
			burn("service:shop_errors:ratio_rate", "3d", availBudget),
		).describe("1 = spending the budget exactly over 30 days. Alerts: 14.4 (1h and 5m) and 6 (6h and 30m) page; 3 (1d and 2h) and 1 (3d and 6h) open a ticket."),
		timeseries("Availability SLI (1h rolling)", "percentunit",
			q(fmt.Sprintf("1 - sum(service:shop_errors:ratio_rate1h{%s, %s})", envMatcher, svc), "SLI"),
			q(fmt.Sprintf("vector(%g)", AvailabilityObjective), "objective"),
		),
	)

	b.row(fmt.Sprintf("Latency of $service (objective %.0f %% within %s s)", LatencyObjective*100, LatencyThreshold)).add(6, 4,
		stat("Latency SLI (30d)", "percentunit", instant(latSLI, ""),
			Step{Color: "red"}, Step{Color: "green", Value: v(LatencyObjective)}).decimals(3),
		stat("Error budget remaining (30d)", "percentunit", instant(budgetLeft("1 - "+latSLI, latBudget), ""), budgetSteps...),
		stat("Burn rate (1h)", "x", instant(fmt.Sprintf("sum(service:shop_slow:ratio_rate1h{%s, %s}) / %g", envMatcher, svc, latBudget), ""), burnSteps...).decimals(2),
		stat("Burn rate (6h)", "x", instant(fmt.Sprintf("sum(service:shop_slow:ratio_rate6h{%s, %s}) / %g", envMatcher, svc, latBudget), ""), burnSteps...).decimals(2),
	).add(12, 8,
		timeseries("Latency burn rate", "x",
			burn("service:shop_slow:ratio_rate", "5m", latBudget),
			burn("service:shop_slow:ratio_rate", "1h", latBudget),
			burn("service:shop_slow:ratio_rate", "6h", latBudget),
			burn("service:shop_slow:ratio_rate", "3d", latBudget),
		),
		timeseries("Latency SLI (1h rolling)", "percentunit",
			q(fmt.Sprintf("1 - sum(service:shop_slow:ratio_rate1h{%s, %s})", envMatcher, svc), "SLI"),
			q(fmt.Sprintf("vector(%g)", LatencyObjective), "objective"),
		),
	)

	route := func(rule string) string {
		return fmt.Sprintf("sum by (http_request_method, http_route) (%s{%s})", rule, envMatcher)
	}
	b.row("Gateway routes (the paging SLOs)").add(16, 10,
		table("Gateway routes: SLIs and burn rates (1h)", map[string]string{
			"A": "Requests/s", "B": "Availability (1h)", "C": "Availability burn (1h)", "D": "Within 0.5 s (1h)", "E": "Latency burn (1h)",
		},
			tableQ(route("gateway_route:shop_requests:rate1h")),
			tableQ("1 - "+route("gateway_route:shop_errors:ratio_rate1h")),
			tableQ(route("gateway_route:shop_errors:ratio_rate1h")+fmt.Sprintf(" / %g", availBudget)),
			tableQ("1 - "+route("gateway_route:shop_slow:ratio_rate1h")),
			tableQ(route("gateway_route:shop_slow:ratio_rate1h")+fmt.Sprintf(" / %g", latBudget)),
		),
	).add(8, 5,
		stat("SLO alerts firing", "none", instant(`count(ALERTS{alertstate="firing", slo=~".+"}) or vector(0)`, ""),
			Step{Color: "green"}, Step{Color: "red", Value: v(1)}),
		stat("SLO alerts pending", "none", instant(`count(ALERTS{alertstate="pending", slo=~".+"}) or vector(0)`, ""),
			Step{Color: "green"}, Step{Color: "orange", Value: v(1)}),
	)
	return b.done()
}
