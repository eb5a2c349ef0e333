package audit

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

const scope = "github.com/otelshop/shop/internal/audit"

// Metrics are what an audit reports for alerts: shop.audit.discrepancies, per
// check, after every audit (the ShopLedgerDiscrepancy alert reads it), and
// shop.audit.runs by outcome, so that an audit that stopped working is seen too.
type Metrics struct {
	discrepancies metric.Int64Gauge
	runs          metric.Int64Counter
	byCheck       map[string]metric.RecordOption
}

// NewMetrics makes the audit's instruments on meter (from telemetry.Start).
func NewMetrics(meter metric.MeterProvider) *Metrics {
	m := &Metrics{byCheck: map[string]metric.RecordOption{}}
	mt := meter.Meter(scope)
	m.discrepancies, _ = mt.Int64Gauge("shop.audit.discrepancies", metric.WithUnit("{discrepancy}"),
		metric.WithDescription("Discrepancies the last ledger audit found between orders, payments, inventory and shipping, by check."))
	m.runs, _ = mt.Int64Counter("shop.audit.runs", metric.WithUnit("{audit}"),
		metric.WithDescription("Ledger audits, by outcome (clean, discrepancies, error)."))
	for _, name := range CheckNames() {
		m.byCheck[name] = metric.WithAttributeSet(attribute.NewSet(attribute.String("check", name)))
	}
	return m
}

// Record reports an audit: every check's discrepancies (zero included, so an
// alert sees a discrepancy resolved) and the run.
func (m *Metrics) Record(ctx context.Context, r Report) {
	for _, c := range r.Checks {
		m.discrepancies.Record(ctx, int64(len(c.Discrepancies)), m.byCheck[c.Name])
	}
	outcome := "clean"
	if r.Discrepancies() > 0 {
		outcome = "discrepancies"
	}
	m.runs.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcome)))
}

// Failed reports an audit that could not read the databases.
func (m *Metrics) Failed(ctx context.Context) {
	m.runs.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "error")))
}
