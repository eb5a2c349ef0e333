package dashboards

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// Business is what the shop sells: orders, revenue (shop.orders.revenue counts
// US cents), checkout conversion, payments by outcome and reason, stock
// reservations and releases, and the shipping backlog.
func Business() *dashboard.DashboardBuilder {
	perMin := func(by, metric string, matchers ...string) string {
		if by == "" {
			return "sum(rate(" + sel(metric, matchers...) + "[$__rate_interval])) * 60"
		}
		return "sum by (" + by + ") (rate(" + sel(metric, matchers...) + "[$__rate_interval])) * 60"
	}
	inRange := func(metric string, matchers ...string) string {
		return "sum(increase(" + sel(metric, matchers...) + "[$__range]))"
	}
	placed := "sum(rate(" + sel("shop_orders_placed_total") + "[$__rate_interval]))"
	failed := orZero("sum(rate(" + sel("shop_orders_failed_total") + "[$__rate_interval]))")
	conversion := placed + " / (" + placed + " + " + failed + ")"

	b := newBoard("shop-business", "Business",
		"Orders, revenue, checkout conversion, payments, stock and shipping.", "business").
		vars(envVar())

	b.row("In the selected time range").add(4, 4,
		stat("Orders placed", "none", instant(inRange("shop_orders_placed_total"), "")).Decimals(0),
		stat("Revenue", "currencyUSD", instant(inRange("shop_orders_revenue_total")+" / 100", "")),
		stat("Average order value", "currencyUSD", instant(inRange("shop_orders_revenue_total")+" / "+inRange("shop_orders_placed_total")+" / 100", "")),
		stat("Checkout conversion", "percentunit", instant(
			inRange("shop_orders_placed_total")+" / ("+inRange("shop_orders_placed_total")+" + "+orZero(inRange("shop_orders_failed_total"))+")", ""),
			base("red"), from(0.9, "orange"), from(0.97, "green")).
			Description("Checkouts that ended in a placed order, of all checkouts that reached the orders service."),
		stat("Payment success", "percentunit", instant(
			orZero(inRange("shop_payments_charges_total", `outcome="succeeded"`))+" / "+inRange("shop_payments_charges_total"), ""),
			base("red"), from(0.9, "orange"), from(0.97, "green")),
		stat("Shipping backlog now", "none", instant("sum("+sel("shop_shipping_backlog")+")", ""),
			base("green"), from(50, "orange"), from(200, "red")).
			Description("Placed orders shipping has not yet turned into shipments."),
	)

	b.row("Orders").add(8, 8,
		timeseries("Orders per minute", "none",
			q(perMin("", "shop_orders_placed_total"), "placed"),
			q(orZero(perMin("", "shop_orders_failed_total")), "failed"),
		),
		timeseries("Revenue per minute (USD)", "currencyUSD", q(perMin("", "shop_orders_revenue_total")+" / 100", "revenue")),
		timeseries("Checkout conversion", "percentunit", q(conversion, "placed / all checkouts")).Min(0).Max(1),
		bars(timeseries("Checkout failures per minute by reason", "none",
			q(orZero(perMin("reason", "shop_orders_failed_total")), "{{reason}}"))).
			Description("shop.orders.failed: out_of_stock, payment_declined, payment_unavailable, inventory_unavailable, abandoned (swept), ..."),
		timeseries("Checkout duration by outcome", "s",
			q(quantile(0.5, "outcome", sel("shop_checkout_duration_seconds_bucket")), "p50 {{outcome}}"),
			q(quantile(0.95, "outcome", sel("shop_checkout_duration_seconds_bucket")), "p95 {{outcome}}"),
		),
		timeseries("Cart additions per minute", "none",
			q(perMin("", "shop_cart_additions_total"), "products added"),
			q(perMin("", "shop_cart_added_units_total"), "units added"),
		),
	)

	b.row("Payments").add(8, 8,
		stacked(timeseries("Charges per minute by outcome and reason", "none",
			q(perMin("outcome, reason", "shop_payments_charges_total"), "{{outcome}} ({{reason}})"))),
		bars(timeseries("Declines and errors per minute by reason", "none",
			q(orZero(perMin("outcome, reason", "shop_payments_charges_total", `outcome!="succeeded"`)), "{{outcome}} ({{reason}})"))),
		bars(timeseries("Refunds per minute", "none",
			q(orZero(perMin("", "shop_payments_refunds_total")), "refunds"))).
			Description("Charges refunded by a failed checkout's compensation or the abandoned-checkout sweeper."),
	)

	b.row("Stock").add(8, 8,
		timeseries("Reservation operations per minute", "none",
			q(perMin("operation, outcome", "shop_inventory_reservations_total"), "{{operation}} {{outcome}}")),
		bars(timeseries("Releases and expiries per minute", "none",
			q(orZero(perMin("operation, outcome", "shop_inventory_reservations_total", `operation=~"release|expire"`)), "{{operation}} {{outcome}}"))).
			Description("Holds given back: released by a failed checkout, or expired because nobody committed them."),
		timeseries("Units put on hold per minute", "none", q(perMin("", "shop_inventory_reserved_units_total"), "units")),
	)

	b.row("Fulfilment").add(8, 8,
		timeseries("Shipping backlog", "none", q("sum("+sel("shop_shipping_backlog")+")", "orders waiting for a shipment")),
		stacked(timeseries("Shipments per minute by carrier", "none", q(perMin("carrier", "shop_shipping_shipments_total"), "{{carrier}}"))),
		timeseries("Order events: outbox pending and publish lag", "short",
			q("sum("+sel("shop_outbox_pending")+")", "pending in outbox"),
			q(quantile(0.95, "", sel("shop_outbox_lag_seconds_bucket")), "p95 commit → publish (s)"),
		),
		timeseries("Average shipping quote (USD)", "currencyUSD",
			q("sum by (carrier) (rate("+sel("shop_shipping_quote_sum")+"[$__rate_interval])) / sum by (carrier) (rate("+sel("shop_shipping_quote_count")+"[$__rate_interval])) / 100", "{{carrier}}")),
		timeseries("Accounts per minute", "none",
			q(perMin("", "shop_users_registrations_total"), "registrations"),
			q(perMin("outcome", "shop_users_logins_total"), "logins {{outcome}}"),
		),
		timeseries("Catalogue cache hit ratio", "percentunit",
			q(orZero(rate("", sel("shop_catalog_cache_requests_total", `result="hit"`)))+" / "+rate("", sel("shop_catalog_cache_requests_total")), "hit ratio")).Min(0).Max(1),
	)
	return b.done()
}
