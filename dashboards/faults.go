package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	statetimelinepanel "github.com/grafana/grafana-foundation-sdk/go/statetimeline"
)

// The fault flags (internal/flags, deploy/flags/shop.flags.json) as every
// process reports them: each process reads the one flag file, so each reports
// every flag, under its own service_name.
const (
	// shop.feature_flag.changes: +1 when a flag's effective setting changes in
	// the file; every series starts at 0, so the first change is an increase.
	flagChanges = "shop_feature_flag_changes_total"
	// shop.feature_flag.active: 1 while the flag can resolve to a variant that is not off.
	flagActive = "shop_feature_flag_active"
	// shop.feature_flag.file_errors: flag files refused (the last good flags stay).
	flagFileErrors = "shop_feature_flag_file_errors_total"
)

// RunbookBase is where the runbooks (docs/runbooks/<alert>.md) are published;
// every alert's runbook_url starts with it too.
const RunbookBase = "https://github.com/otelshop/shop/blob/main/docs/runbooks/"

// FlagChangeExpr is the PromQL of a fault annotation: the flags whose setting
// changed within the last $__rate_interval in the processes matchers select,
// that can now be on (on) or are now off (!on). Both are one series per flag,
// whichever number of processes reports it.
func FlagChangeExpr(on bool, matchers ...string) string {
	changed := "max by (feature_flag_key) (increase(" + sel(flagChanges, matchers...) + "[$__rate_interval])) > 0"
	op := " unless on (feature_flag_key) "
	if on {
		op = " and on (feature_flag_key) "
	}
	return changed + op + "max by (feature_flag_key) (" + sel(flagActive, matchers...) + ") > 0"
}

// faultAnnotations mark every fault flag change on every panel: red where a
// fault went on (or changed variant), green where it went off.
func (b *board) faultAnnotations(where string, matchers ...string) *board {
	text := "The flag file changed (shop flags set / reset, or an edit of FLAGS_FILE)" + where +
		". Each process logs it: \"feature flag changed: {{feature_flag_key}} is now …\"."
	for _, a := range []struct {
		on                 bool
		name, color, title string
	}{
		{true, "Fault on or changed", "red", "{{feature_flag_key}} on (or its variant changed)"},
		{false, "Fault off", "green", "{{feature_flag_key}} off"},
	} {
		q, err := dashboard.NewAnnotationQueryBuilder().
			Name(a.name).Datasource(Prometheus.ref()).Enable(true).Hide(false).IconColor(a.color).
			Target(prometheus.NewDataqueryBuilder().Datasource(Prometheus.ref()).RefId("Anno").
				Expr(FlagChangeExpr(a.on, matchers...)).Range()).
			TitleFormat(a.title).TextFormat(text).TagKeys("feature_flag_key").UseValueForTime(false).
			Build()
		q.Placement = nil // see link
		b.dash.Annotation(built[dashboard.AnnotationQuery]{q, err})
	}
	return b
}

// runbooksLink opens the index of the runbooks: every alert, its runbook and
// the drills that make it fire.
func (b *board) runbooksLink() *board {
	return b.externalLink("Runbooks (every alert: what it means, where to look)", RunbookBase+"README.md")
}

// runbook is a panel link to the runbook of the alert whose investigation
// starts at that panel.
func runbook(alerts ...string) []cog.Builder[dashboard.DashboardLink] {
	var out []cog.Builder[dashboard.DashboardLink]
	for _, a := range alerts {
		out = append(out, link(dashboard.NewDashboardLinkBuilder("Runbook: "+a).
			Type(dashboard.DashboardLinkTypeLink).Url(RunbookBase+a+".md").TargetBlank(true)))
	}
	return out
}

// faultsRow shows which fault flags can be on, over time, and refused flag files.
func (b *board) faultsRow() *board {
	active := "max by (feature_flag_key) (" + sel(flagActive) + ")"
	return b.row("Fault flags (shop flags list; annotations mark each change)").add(4, 9,
		stat("Faults that can be on", "none", instant("count("+active+" > 0) or vector(0)", ""), base("green"), from(1, "red")).
			Description("Fault flags whose variant, or a targeting rule, is not off (shop.feature_flag.active). `shop flags reset` turns every one off."),
	).add(14, 9,
		stateTimeline("Fault flags over time", q(active, "{{feature_flag_key}}")).
			Description("Per flag: off, or can be on (a variant or a targeting rule that is not off). The drill of each fault is `shop drill <flag>`; docs/runbooks lists which alert it fires."),
	).add(6, 9,
		bars(timeseries("Flag files refused", "none",
			q(orZero("sum by (error_type) (increase("+sel(flagFileErrors)+"[$__rate_interval]))"), "{{error_type}}"))).
			Description("shop.feature_flag.file_errors: a missing, unreadable, malformed or invalid flag file, per process that read it. The last good flags stay in force; each process logs the error once."),
	)
}

// stateTimeline draws each series as a band of states, here 0 (off) and 1 (can be on).
func stateTimeline(title string, t *prometheus.DataqueryBuilder) *statetimelinepanel.PanelBuilder {
	result := func(text, color string) dashboard.ValueMappingResult {
		return dashboard.ValueMappingResult{Text: cog.ToPtr(text), Color: cog.ToPtr(color)}
	}
	return statetimelinepanel.NewPanelBuilder().
		Title(title).Datasource(Prometheus.ref()).Targets(targets(t)).
		Mappings([]dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText,
			Options: map[string]dashboard.ValueMappingResult{"0": result("off", "green"), "1": result("can be on", "red")}}}}).
		ShowValue(common.VisibilityModeNever).MergeValues(true).RowHeight(0.8).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom).
			ShowLegend(false).Calcs([]string{})).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeSingle).Sort(common.SortOrderNone))
}
