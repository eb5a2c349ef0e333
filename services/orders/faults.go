package orders

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/flags"
)

// The faults orders can be told to have (deploy/flags/shop.flags.json).
const (
	faultNPlusOne      = "ordersListNPlusOne"
	faultPoolExhausted = "ordersPoolExhausted"
	faultOutboxStall   = "ordersOutboxStall"
	faultRetryStorm    = "ordersRetryStorm"
)

var faults = []flags.Spec{
	{Key: faultNPlusOne, Service: "orders",
		Summary: "listing orders loads each order's items with a query of its own (N+1 queries)"},
	{Key: faultPoolExhausted, Service: "orders", Needs: flags.NeedAmount, AmountUnit: "connections left to requests",
		Summary: "a background job leaves its PostgreSQL transactions open, so their connections are never given back, leaving amount to the requests"},
	{Key: faultOutboxStall, Service: "orders",
		Summary: "the outbox relay waits on a RabbitMQ connection that stays blocked: orders are placed, their events stay in the outbox"},
	{Key: faultRetryStorm, Service: "orders", Needs: flags.NeedDelay | flags.NeedAmount, AmountUnit: "attempts per call",
		Summary: "the payments client retries at once, amount times per call, with an attempt deadline of delay, under its circuit breaker"},
}

// holdConnections is the leaking job of the ordersPoolExhausted fault: while the
// fault is on it runs exportSales whenever the pool has more than v.Amount
// connections free, and each run leaks its connection; when the fault goes off
// the leaked transactions are rolled back and their connections come back.
func holdConnections(ctx context.Context, db *pgxpool.Pool, fault *flags.Fault, tracer trace.Tracer) {
	var leaked []pgx.Tx
	defer func() {
		for _, tx := range leaked {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		want := 0
		if v, on := fault.On(ctx); on {
			want = max(0, int(db.Config().MaxConns)-v.Amount)
		}
		for len(leaked) > want {
			_ = leaked[len(leaked)-1].Rollback(ctx)
			leaked = leaked[:len(leaked)-1]
		}
		for len(leaked) < want {
			tx, err := exportSales(ctx, db, tracer)
			if err != nil {
				break // no connection came free: try on the next round
			}
			leaked = append(leaked, tx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// exportSales is the job's one run, and its bug: it opens a transaction for a
// consistent read of the day's sales and returns without ending it, so its
// connection stays checked out, idle in transaction, for good. Its trace shows the
// begin with no commit or rollback after it.
func exportSales(ctx context.Context, db *pgxpool.Pool, tracer trace.Tracer) (pgx.Tx, error) {
	ctx, span := tracer.Start(ctx, "export daily sales")
	defer span.End()
	actx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
	defer cancel()
	tx, err := db.Begin(actx)
	if err != nil {
		return nil, err
	}
	var orders, cents int64
	if err := tx.QueryRow(actx, `SELECT count(*), coalesce(sum(total_cents), 0) FROM orders
		WHERE status = 'placed' AND created_at >= date_trunc('day', now())`).Scan(&orders, &cents); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, err
	}
	span.SetAttributes(attribute.Int64("shop.report.orders", orders))
	return tx, nil // the commit is missing
}
