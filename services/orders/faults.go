package orders

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

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
		Summary: "a background job takes PostgreSQL connections and never gives them back, leaving amount to the requests"},
	{Key: faultOutboxStall, Service: "orders",
		Summary: "the outbox relay waits on a RabbitMQ connection that stays blocked: orders are placed, their events stay in the outbox"},
	{Key: faultRetryStorm, Service: "orders", Needs: flags.NeedDelay | flags.NeedAmount, AmountUnit: "attempts per call",
		Summary: "the payments client retries at once, amount times per call, with an attempt deadline of delay, under its circuit breaker"},
}

// holdConnections is the leaking job of the ordersPoolExhausted fault: while the
// fault is on it keeps every connection of the pool but v.Amount checked out,
// taking them as they come free; when it goes off it gives them back.
func holdConnections(ctx context.Context, db *pgxpool.Pool, fault *flags.Fault) {
	var held []*pgxpool.Conn
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		want := 0
		if v, on := fault.On(ctx); on {
			want = max(0, int(db.Config().MaxConns)-v.Amount)
		}
		for len(held) > want {
			held[len(held)-1].Release()
			held = held[:len(held)-1]
		}
		for len(held) < want {
			actx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
			c, err := db.Acquire(actx)
			cancel()
			if err != nil {
				break // busy: take it on the next round
			}
			held = append(held, c)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
