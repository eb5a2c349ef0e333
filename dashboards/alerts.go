package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	timeseriespanel "github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// alertSignal is the quantity one alert of deploy/prometheus/rules/services.yml
// compares with its threshold, for one service, over the alert's own window:
// where its runbook (docs/runbooks/<alert>.md) starts.
type alertSignal struct {
	alert, title, unit, expr, legend string
	threshold                        float64
	lowIsBad                         bool // the alert fires below the threshold
	description                      string
}

// alertSignalsRow draws, for the service svc selects, each alert's signal with
// its threshold as a red line, and links each panel to the alert's runbook.
// Signals of a dependency the service does not have show 0.
func (b *board) alertSignalsRow(svc string) *board {
	b.row("Alert signals of $service (services.yml; each panel links its runbook)")
	for _, s := range alertSignals(svc) {
		b.add(6, 7, s.panel())
	}
	return b
}

// alertSignals lists, for the service svc selects, what each alert of
// services.yml compares and its threshold.
func alertSignals(svc string) []alertSignal {
	return []alertSignal{
		{"ShopServiceErrorsHigh", "Server error ratio, 2m (alert above 2 %)", "percentunit",
			sel("service:shop_errors:rate2m", svc) + " / " + sel("service:shop_requests:rate2m", svc), "errors / requests", 0.02, false,
			"HTTP 5xx and gRPC server-fault answers over all answers (recording rules in services.yml)."},
		{"ShopServiceLatencyHigh", "p99 latency, 2m (alert above 0.5 s)", "s",
			sel("service:shop_latency:p99_2m", svc), "p99", 0.5, false,
			"HTTP and gRPC server duration, 99th percentile (service:shop_latency:p99_2m)."},
		{"ShopDatabaseQueriesSlow", "PostgreSQL query p99, 2m (alert above 50 ms)", "s",
			orZero("histogram_quantile(0.99, sum by (le) (rate(" + sel("db_client_operation_duration_seconds_bucket", svc) + "[2m])))"), "p99", 0.05, false,
			"otelpgx's db.client.operation.duration over every statement of the service."},
		{"ShopRepeatedQueries", "Most repeated statement per request, p99 by route (alert above 2)", "short",
			orZero("histogram_quantile(0.99, sum by (http_route, le) (rate(" + sel("shop_db_statement_repeats_bucket", svc) + "[2m])))"), "{{http_route}}", 2, false,
			"shop.db.statement_repeats: per request, how often its most repeated SQL statement ran. N+1 queries show as a route far above 1."},
		{"ShopDatabasePoolExhausted", "PostgreSQL pool: mean wait for a connection, 2m (alert above 10 ms)", "s",
			orZero("sum(rate(" + sel("pgxpool_acquire_duration_nanoseconds_total", svc) + "[2m])) / sum(rate(" + sel("pgxpool_acquires_total", svc) + "[2m])) / 1e9"), "mean acquire", 0.01, false,
			"Time to take a connection from the pool, per acquire (otelpgx pool stats)."},
		{"ShopCPUPerRequestHigh", "CPU seconds per request, 2m (alert above 10 ms)", "s",
			orZero("sum(" + sel("service:shop_cpu_seconds:rate2m", svc) + ") / sum(" + sel("service:shop_requests:rate2m", svc) + ")"), "CPU per request", 0.01, false,
			"The process's CPU (process.cpu.time) over the requests it answered: only where the service has a process of its own (compose, local mode), not under `shop all`."},
		{"ShopLockContention", "Time blocked on mutexes, s per s, 2m (alert above 0.05)", "s",
			orZero("sum(rate(" + sel("shop_runtime_mutex_wait_seconds_total", svc) + "[2m]))"), "mutex wait", 0.05, false,
			"shop.runtime.mutex_wait (runtime/metrics /sync/mutex/wait/total:seconds): goroutines' time blocked on sync.Mutex and RWMutex."},
		{"ShopMemoryGrowing", "Heap goal growth, bytes/s over 3m (alert above 256 KiB/s)", "Bps",
			orZero("max(deriv(" + sel("go_memory_gc_goal_bytes", svc) + "[3m]))"), "growth", 262144, false,
			"deriv of go.memory.used (type other: heap and runtime, not stacks)."},
		{"ShopGoroutinesGrowing", "Goroutine growth per second over 3m (alert above 1)", "short",
			orZero("max(deriv(" + sel("go_goroutine_count", svc) + "[3m]))"), "growth", 1, false,
			"deriv of go.goroutine.count."},
		{"ShopCacheHitRatioLow", "Catalogue cache hit ratio, 2m (alert below 50 %)", "percentunit",
			orZero("sum(rate(" + sel("shop_catalog_cache_requests_total", svc, `result="hit"`) + "[2m])) / sum(rate(" + sel("shop_catalog_cache_requests_total", svc) + "[2m]))"), "hits / look-ups", 0.5, true,
			"shop.catalog.cache.requests by result (hit, miss, error, bypass). Catalog only: 0 for every other service."},
		{"ShopRetryAmplification", "Retries per first attempt, by dependency, 2m (alert above 1)", "short",
			orZero("sum by (dependency) (rate(" + sel("shop_dependency_attempts_total", svc, `retry="true"`) + "[2m])) / sum by (dependency) (rate(" + sel("shop_dependency_attempts_total", svc, `retry="false"`) + "[2m]))"), "{{dependency}}", 1, false,
			"shop.dependency.attempts (internal/resilience): retries over first attempts of each guarded dependency (orders → inventory, payments)."},
		{"ShopOutboxBehind", "Oldest unpublished outbox event (alert above 30 s)", "s",
			orZero("max(" + sel("shop_outbox_oldest_age_seconds", svc) + ")"), "oldest event", 30, false,
			"shop.outbox.oldest_age: how far behind the relay is. Orders only."},
		{"ShopShippingBacklog", "Shipping queue depth (alert above 20)", "short",
			orZero("max(" + sel("shop_shipping_backlog", svc) + ")"), "order.placed waiting", 20, false,
			"shop.shipping.backlog: messages in RabbitMQ's shipping.order-placed queue. Shipping only."},
	}
}

func (s alertSignal) panel() *timeseriespanel.PanelBuilder {
	steps := []dashboard.Threshold{base("transparent"), from(s.threshold, "red")}
	if s.lowIsBad {
		steps = []dashboard.Threshold{base("red"), from(s.threshold, "transparent")}
	}
	p := timeseries(s.title, s.unit, q(s.expr, s.legend))
	if s.lowIsBad {
		p.Max(1)
	} else {
		p.AxisSoftMax(s.threshold * 1.25) // the threshold line always in view
	}
	return p.
		Description(s.description + " Alert " + s.alert + ": the red line is its threshold; it fires after 1 minute beyond it.").
		Thresholds(dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine)).
		Links(runbook(s.alert))
}
