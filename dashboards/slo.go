package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

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
func SLO() *dashboard.DashboardBuilder {
	svc := `service_name="$service"`
	availBudget := 1 - AvailabilityObjective
	latBudget := 1 - LatencyObjective

	serviceVar := queryVar("service", "Service", `label_values(service:shop_requests:rate5m{`+envMatcher+`}, service_name)`, "").
		Description("Services with server-side SLIs (recorded by deploy/prometheus/rules/slo.yml).")

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
	burnSteps := []dashboard.Threshold{base("green"), from(1, "orange"), from(6, "red")}
	budgetSteps := []dashboard.Threshold{base("red"), from(0.25, "orange"), from(0.5, "green")}

	b := newBoard("shop-slo", "SLOs",
		fmt.Sprintf("Availability (%.1f %% non-5xx) and latency (%.0f %% within %s s) SLOs over %s: SLIs, error budget, burn rates.",
			AvailabilityObjective*100, LatencyObjective*100, LatencyThreshold, sloWindow), "slo").
		vars(envVar(), serviceVar)

	// objectiveRow shows one objective: its SLI over the window and the budget
	// the bad ratio leaves, the burn rates the alerts watch (ratioRule, recorded
	// per window: service:shop_errors:ratio_rate1h, ...) and the rolling SLI.
	// budget is 1 - objective, passed in because the constant expression is
	// exact (0.005) where float arithmetic is not (0.0050000000000000044).
	objectiveRow := func(title, name string, objective, budget float64, sli, badRatio, ratioRule, burnHelp string) {
		ratio := func(window string) string {
			return fmt.Sprintf("sum(%s%s{%s, %s})", ratioRule, window, envMatcher, svc)
		}
		burnRate := func(window string) string { return fmt.Sprintf("%s / %g", ratio(window), budget) }
		burns := timeseries(name+" burn rate", "x",
			q(burnRate("5m"), "5m"), q(burnRate("1h"), "1h"), q(burnRate("6h"), "6h"), q(burnRate("3d"), "3d"))
		if burnHelp != "" {
			burns.Description(burnHelp)
		}
		b.row(title).add(6, 4,
			stat(name+" SLI (30d)", "percentunit", instant(sli, ""), base("red"), from(objective, "green")).Decimals(3),
			stat("Error budget remaining (30d)", "percentunit", instant(budgetLeft(badRatio, budget), ""), budgetSteps...),
			stat("Burn rate (1h)", "x", instant(burnRate("1h"), ""), burnSteps...).Decimals(2),
			stat("Burn rate (6h)", "x", instant(burnRate("6h"), ""), burnSteps...).Decimals(2),
		).add(12, 8,
			burns,
			timeseries(name+" SLI (1h rolling)", "percentunit",
				q("1 - "+ratio("1h"), "SLI"),
				q(fmt.Sprintf("vector(%g)", objective), "objective"),
			),
		)
	}
	objectiveRow(fmt.Sprintf("Availability of $service (objective %.1f %%)", AvailabilityObjective*100), "Availability",
		AvailabilityObjective, availBudget, availSLI, errs(sloWindow)+" / "+total(sloWindow), "service:shop_errors:ratio_rate",
		"1 = spending the budget exactly over 30 days. Alerts: 14.4 (1h and 5m) and 6 (6h and 30m) page; 3 (1d and 2h) and 1 (3d and 6h) open a ticket.")
	objectiveRow(fmt.Sprintf("Latency of $service (objective %.0f %% within %s s)", LatencyObjective*100, LatencyThreshold), "Latency",
		LatencyObjective, latBudget, latSLI, "1 - "+latSLI, "service:shop_slow:ratio_rate", "")

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
			base("green"), from(1, "red")),
		stat("SLO alerts pending", "none", instant(`count(ALERTS{alertstate="pending", slo=~".+"}) or vector(0)`, ""),
			base("green"), from(1, "orange")),
	)
	return b.done()
}
