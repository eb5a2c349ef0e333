package drill

import (
	"fmt"
	"strings"
	"time"

	"github.com/otelshop/shop/services/inventory/inventorypb"
)

// Kinds of fault, for the table.
const (
	KindError      = "error"
	KindLatency    = "latency"
	KindResource   = "resource"
	KindSaturation = "saturation"
	KindBacklog    = "backlog"
	KindPattern    = "pattern"
)

// Drill is one fault of the catalogue and how the platform must catch it.
type Drill struct {
	Fault   string // the flag (deploy/flags/shop.flags.json)
	Variant string // the variant the drill turns on
	Kind    string
	// Alert must reach firing with at least Labels.
	Alert  string
	Labels map[string]string
	// Evidence explains the fault once the alert fired.
	Evidence Evidence
	// MinUptime, when set, is how long every process of the service must have
	// run before the fault goes on: the alert ignores younger processes, whose
	// growth right after a start is normal, so on a platform just started the
	// drill waits instead of timing out.
	MinUptime time.Duration
	// Target, when set, picks the targeting rule's subject before the fault
	// goes on (e.g. the product the load asks for most), so that the fault
	// hits enough of the traffic to matter.
	Target *Target
}

// alertMinUptime is the process age ShopMemoryGrowing and ShopGoroutinesGrowing
// ask for (process_uptime_seconds > 300 in deploy/prometheus/rules/services.yml).
const alertMinUptime = 5 * time.Minute

// Target points a flag's targeting rule at one subject the telemetry names.
type Target struct {
	// Var is the evaluation-context field the rule tests (productId).
	Var string
	// Attribute is the span attribute holding it (shop.product.id) on spans of
	// Service named Operation; the most frequent value in the last minutes wins.
	Service, Operation, Attribute string
}

func spanmetrics(service, span string) string {
	return fmt.Sprintf(`traces_span_metrics_duration_milliseconds_bucket{service_name=%q, span_name=%q}`, service, span)
}

func tookAtLeast(d time.Duration) func(Trace, Span) (string, bool) {
	return func(_ Trace, s Span) (string, bool) {
		return "took " + s.Took().Round(time.Millisecond).String(), s.Took() >= d
	}
}

func failedWith(key, value string) func(Trace, Span) (string, bool) {
	return func(_ Trace, s Span) (string, bool) {
		v := s.Tag(key)
		return fmt.Sprintf("failed (%s=%s)", key, v), s.Failed() && (value == "" || v == value)
	}
}

// Catalogue is every fault's drill, in the order `shop drill all` runs them.
var Catalogue = []Drill{
	{Fault: "paymentsSlowProcessor", Variant: "50%", Kind: KindLatency,
		Alert: "ShopServiceLatencyHigh", Labels: map[string]string{"service_name": "payments"},
		Evidence: SpanEvidence{Service: "payments", Operation: "processor authorize",
			Exemplars: spanmetrics("payments", "processor authorize"), Search: Search{MinDuration: time.Second},
			What: "took a second or more", Check: tookAtLeast(time.Second)}},
	{Fault: "paymentsBrandOutage", Variant: "on", Kind: KindError,
		Alert: "ShopServiceErrorsHigh", Labels: map[string]string{"service_name": "payments"},
		Evidence: SpanEvidence{Service: "payments", Operation: "processor authorize",
			Search: Search{Tags: map[string]string{"error": "true"}},
			What:   "failed, for the targeted card brand", Check: failedWith("shop.payment.card_brand", "amex"), Logs: true}},
	{Fault: "catalogTrendingLock", Variant: "50ms", Kind: KindSaturation,
		Alert: "ShopLockContention", Labels: map[string]string{"service_name": "catalog"},
		Evidence: ProfileEvidence{Type: "mutex:delay:nanoseconds:contentions:count", Service: "catalog",
			Function: "catalog.(*trending).record", MinShare: 0.5}},
	{Fault: "inventoryUnavailable", Variant: "50%", Kind: KindError,
		Alert: "ShopServiceErrorsHigh", Labels: map[string]string{"service_name": "inventory"},
		// otelgrpc names a span by the method's full name without the leading "/".
		Evidence: SpanEvidence{Service: "inventory", Operation: strings.TrimPrefix(inventorypb.Inventory_Reserve_FullMethodName, "/"),
			Search: Search{Tags: map[string]string{"error": "true"}},
			What:   "failed with UNAVAILABLE", Check: failedWith("rpc.response.status_code", "UNAVAILABLE")}},
	{Fault: "catalogCacheBypass", Variant: "100%", Kind: KindSaturation,
		Alert: "ShopCacheHitRatioLow", Labels: map[string]string{"service_name": "catalog"},
		Evidence: SpanEvidence{Service: "catalog", Operation: "GET /v1/products/{id}",
			What: "read PostgreSQL and never asked Redis", Check: func(t Trace, s Span) (string, bool) {
				var pg, redis int
				for _, d := range t.Descendants(s.SpanID) {
					switch d.DBSystem() {
					case "postgresql":
						pg++
					case "redis":
						redis++
					}
				}
				return fmt.Sprintf("ran %d PostgreSQL queries and no Redis command", pg), pg > 0 && redis == 0
			}}},
	{Fault: "catalogSlowSearch", Variant: "on", Kind: KindLatency,
		Alert: "ShopDatabaseQueriesSlow", Labels: map[string]string{"service_name": "catalog"},
		Evidence: SpanEvidence{Service: "catalog", Operation: "GET /v1/products", Search: Search{MinDuration: 20 * time.Millisecond},
			What: "holds a query of 20 ms or more that parses every product (to_tsvector)", Check: func(t Trace, s Span) (string, bool) {
				for _, d := range t.Descendants(s.SpanID) {
					if q := d.Tag("db.query.text"); d.DBSystem() == "postgresql" && d.Took() >= 20*time.Millisecond && strings.Contains(q, "to_tsvector") {
						return fmt.Sprintf("holds a %s query: %.80s…", d.Took().Round(time.Millisecond), strings.Join(strings.Fields(q), " ")), true
					}
				}
				return "", false
			}}},
	{Fault: "catalogProductErrors", Variant: "on", Kind: KindError,
		Alert: "ShopServiceErrorsHigh", Labels: map[string]string{"service_name": "catalog"},
		Target: &Target{Var: "productId", Service: "catalog", Operation: "GET /v1/products/{id}", Attribute: "shop.product.id"},
		Evidence: SpanEvidence{Service: "catalog", Operation: "GET /v1/products/{id}", Search: Search{Tags: map[string]string{"error": "true"}},
			What: "failed, for one product (shop.product.id)", Check: failedWith("shop.product.id", ""), Logs: true}},
	{Fault: "catalogRelatedProducts", Variant: "heavy", Kind: KindResource,
		Alert: "ShopCPUPerRequestHigh", Labels: map[string]string{"service_name": "catalog"},
		Evidence: ProfileEvidence{Type: "process_cpu:cpu:nanoseconds:cpu:nanoseconds", Service: "catalog",
			Function: "catalog.editDistance", MinShare: 0.3}},
	{Fault: "ordersListNPlusOne", Variant: "on", Kind: KindPattern,
		Alert: "ShopRepeatedQueries", Labels: map[string]string{"service_name": "orders", "http_route": "/v1/orders"},
		Evidence: SpanEvidence{Service: "orders", Operation: "GET /v1/orders",
			What: "ran the same items query once per order", Check: func(t Trace, s Span) (string, bool) {
				n := 0
				for _, d := range t.Descendants(s.SpanID) {
					if strings.Contains(d.Tag("db.query.text"), "FROM order_items WHERE order_id = $1") {
						n++
					}
				}
				return fmt.Sprintf("ran the items query %d times", n), n >= 3
			}}},
	{Fault: "ordersPoolExhausted", Variant: "1-left", Kind: KindSaturation,
		Alert: "ShopDatabasePoolExhausted", Labels: map[string]string{"service_name": "orders"},
		Evidence: SpanEvidence{Service: "orders", Operation: "export daily sales",
			What: "began a transaction and never ended it (its connection stays checked out)", Check: func(t Trace, s Span) (string, bool) {
				var queries []string
				for _, d := range t.Descendants(s.SpanID) {
					queries = append(queries, d.Tag("db.query.text"))
				}
				began, ended := transactions(queries)
				return fmt.Sprintf("began %d transaction(s), ended %d", began, ended), began > ended
			}}},
	{Fault: "ordersOutboxStall", Variant: "on", Kind: KindBacklog,
		Alert: "ShopOutboxBehind", Labels: map[string]string{"service_name": "orders"},
		Evidence: AllOf{
			LogEvidence{Service: "orders", Contains: "RabbitMQ connection is blocked"},
			SpanEvidence{Service: "orders", Operation: "POST /v1/checkout", Search: Search{OlderThan: 30 * time.Second},
				What: "placed its order 30 s ago or more, and its trace stops at the outbox", Check: func(t Trace, s Span) (string, bool) {
					started := time.UnixMicro(s.StartTime)
					for _, o := range t.Spans {
						if strings.HasPrefix(o.OperationName, "outbox relay") {
							return "", false
						}
					}
					return fmt.Sprintf("placed %s ago; no outbox relay span", time.Since(started).Round(time.Second)),
						!s.Failed() && time.Since(started) >= 30*time.Second
				}},
		}},
	{Fault: "ordersRetryStorm", Variant: "5x-25ms", Kind: KindSaturation,
		Alert: "ShopRetryAmplification", Labels: map[string]string{"service_name": "orders", "dependency": "payments"},
		Evidence: SpanEvidence{Service: "orders", Operation: "POST /v1/checkout",
			What: "sent payments three or more attempts of one charge", Check: func(t Trace, s Span) (string, bool) {
				n := 0
				for _, d := range t.Descendants(s.SpanID) {
					if d.Service == "orders" && d.OperationName == "POST /v1/charges" {
						n++
					}
				}
				return fmt.Sprintf("sent %d POST /v1/charges for one checkout", n), n >= 3
			}}},
	{Fault: "cartMemoryLeak", Variant: "256KiB", Kind: KindResource,
		Alert: "ShopMemoryGrowing", Labels: map[string]string{"service_name": "cart"}, MinUptime: alertMinUptime,
		Evidence: ProfileEvidence{Type: "memory:inuse_space:bytes:space:bytes", Service: "cart",
			Function: "cart.snapshot", MinShare: 0.3}},
	// 30 s: at the drills' load (about 0.6 orders/s) 15 s stalls no more
	// bookings than shipping's 4 workers absorb, and the queue never backed up
	// (seen: backlog 0 for 6 minutes, when the rule targeted 3 of the load's 7
	// countries; it targets 5 now).
	{Fault: "shippingCarrierStall", Variant: "30s", Kind: KindBacklog,
		Alert: "ShopShippingBacklog", Labels: map[string]string{"service_name": "shipping"},
		Evidence: SpanEvidence{Service: "shipping", Operation: "carrier book pickup", Search: Search{MinDuration: 10 * time.Second},
			What: "took 10 s or more", Check: tookAtLeast(10 * time.Second)}},
	{Fault: "shippingTrackerLeak", Variant: "10", Kind: KindResource,
		Alert: "ShopGoroutinesGrowing", Labels: map[string]string{"service_name": "shipping"}, MinUptime: alertMinUptime,
		Evidence: ProfileEvidence{Type: "goroutine:goroutine:count:goroutine:count", Service: "shipping",
			Function: "shipping.watchTracking", MinShare: 0.5}},
}

// Named returns the drills of the given faults ("all" for every one).
func Named(names []string) ([]Drill, error) {
	if len(names) == 1 && names[0] == "all" || len(names) == 0 {
		return Catalogue, nil
	}
	var out []Drill
	for _, n := range names {
		found := false
		for _, d := range Catalogue {
			if d.Fault == n {
				out, found = append(out, d), true
			}
		}
		if !found {
			var all []string
			for _, d := range Catalogue {
				all = append(all, d.Fault)
			}
			return nil, fmt.Errorf("no drill %q; the drills are: all, %s", n, strings.Join(all, ", "))
		}
	}
	return out, nil
}

// transactions counts, among statements (db.query.text), the transactions begun
// and those ended by a commit or a rollback.
func transactions(queries []string) (began, ended int) {
	for _, q := range queries {
		switch q = strings.ToLower(q); {
		case strings.HasPrefix(q, "begin"):
			began++
		case q == "commit", q == "rollback":
			ended++
		}
	}
	return began, ended
}
