package orders

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelshop/shop/internal/pg"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Order states.
const (
	StatusPending = "pending"
	StatusPlaced  = "placed"
	StatusFailed  = "failed"
)

// Item is a line of an order, priced when the order was made.
type Item struct {
	ProductID  string `json:"product_id"`
	Quantity   int    `json:"quantity"`
	PriceCents int64  `json:"price_cents"`
}

// Address is where an order ships to.
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

// Order is a user's purchase and where its checkout stands.
type Order struct {
	ID              string    `json:"id"`
	UserID          string    `json:"-"`
	Status          string    `json:"status"`
	TotalCents      int64     `json:"total_cents"`
	Currency        string    `json:"currency"`
	Items           []Item    `json:"items"`
	FailureReason   string    `json:"failure_reason,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	PaymentID       string    `json:"-"` // internal: the contract's order has no payment
	ShippingAddress Address   `json:"-"` // personal data the API does not echo
	IdempotencyKey  string    `json:"-"`
	RequestHash     string    `json:"-"`
	CartVersion     int64     `json:"-"`
}

var (
	errNoOrder      = errors.New("no such order")
	errDuplicate    = errors.New("an order with this idempotency key exists")
	errCartInFlight = errors.New("a checkout of this cart is running or done")
)

type store struct{ db *pgxpool.Pool }

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// createPending stores a new order in state pending, before any other step of the
// checkout, so that an interrupted checkout leaves a trace to clean up.
func (s store) createPending(ctx context.Context, o *Order) error {
	addr, err := json.Marshal(o.ShippingAddress)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO orders (id, user_id, status, total_cents, currency, idempotency_key, shipping_address, request_hash, cart_version)
			VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8) RETURNING created_at`,
			o.ID, o.UserID, o.TotalCents, o.Currency, nullable(o.IdempotencyKey), addr, o.RequestHash, o.CartVersion).Scan(&o.CreatedAt)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.ConstraintName == "orders_live_cart_version" {
			return errCartInFlight
		}
		if pg.IsUniqueViolation(err) {
			return errDuplicate
		}
		if err != nil {
			return fmt.Errorf("insert order: %w", err)
		}
		// One statement for every item: a statement per item would be the N+1
		// pattern that ShopRepeatedQueries looks for.
		products, quantities, prices := make([]string, len(o.Items)), make([]int32, len(o.Items)), make([]int64, len(o.Items))
		for i, it := range o.Items {
			products[i], quantities[i], prices[i] = it.ProductID, int32(it.Quantity), it.PriceCents
		}
		if _, err := tx.Exec(ctx, `INSERT INTO order_items (order_id, product_id, quantity, price_cents)
			SELECT $1, * FROM unnest($2::text[], $3::integer[], $4::bigint[])`, o.ID, products, quantities, prices); err != nil {
			return fmt.Errorf("insert order items: %w", err)
		}
		return nil
	})
}

// OutboxEvent is an event to publish once the transaction that wrote it commits.
type OutboxEvent struct {
	MessageID   string
	RoutingKey  string
	Payload     []byte
	Traceparent string
}

// markPlaced records the payment, moves the order to placed and writes its event to
// the outbox, all in one transaction: the order is placed if and only if its event
// will be published.
func (s store) markPlaced(ctx context.Context, orderID, paymentID string, ev OutboxEvent) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE orders SET status = 'placed', payment_id = $2, updated_at = now()
			WHERE id = $1 AND status = 'pending'`, orderID, paymentID)
		if err != nil {
			return fmt.Errorf("mark order placed: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("mark order placed: order %s is no longer pending", orderID)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO outbox (message_id, routing_key, payload, traceparent) VALUES ($1, $2, $3, $4)`,
			ev.MessageID, ev.RoutingKey, ev.Payload, ev.Traceparent); err != nil {
			return fmt.Errorf("write outbox: %w", err)
		}
		return nil
	})
}

// markFailed moves a pending order to failed and says whether it did. Whoever moves an
// order out of pending (the saga or the sweeper) owns what follows.
func (s store) markFailed(ctx context.Context, orderID, reason, paymentID string, refundDue bool) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE orders SET status = 'failed', failure_reason = $2, payment_id = $3, refund_due = $4, updated_at = now()
		WHERE id = $1 AND status = 'pending'`, orderID, reason, paymentID, refundDue)
	if err != nil {
		return false, fmt.Errorf("mark order failed: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// claimFailed moves an order still pending to failed and says whether it did: of
// the saga and every replica's sweeper, exactly one moves an order out of pending.
// The claim marks the refund and the release due, so that money and stock are owed
// until settled whatever happens to the claimant next, and leases the order to the
// claimant for lease.
func (s store) claimFailed(ctx context.Context, orderID, reason, paymentID string, lease time.Duration) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE orders SET status = 'failed', failure_reason = $2, payment_id = $3,
		refund_due = true, release_due = true, settling_until = now() + $4::interval, updated_at = now()
		WHERE id = $1 AND status = 'pending'`, orderID, reason, paymentID, lease.String())
	if err != nil {
		return false, fmt.Errorf("claim failed order: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// orderStatus reads where an order stands.
func (s store) orderStatus(ctx context.Context, orderID string) (string, error) {
	var status string
	if err := s.db.QueryRow(ctx, `SELECT status FROM orders WHERE id = $1`, orderID).Scan(&status); err != nil {
		return "", fmt.Errorf("read order status: %w", err)
	}
	return status, nil
}

// markReleaseDue records that inventory did not confirm the order's stock returned.
func (s store) markReleaseDue(ctx context.Context, orderID string) error {
	if _, err := s.db.Exec(ctx, `UPDATE orders SET release_due = true WHERE id = $1`, orderID); err != nil {
		return fmt.Errorf("mark release due: %w", err)
	}
	return nil
}

// settlement is a failed order whose refund or release is still owed.
type settlement struct {
	orderID    string
	reason     string // why the order failed, recorded with the release
	refundDue  bool
	releaseDue bool
}

// claimSettlements leases up to limit failed orders with a refund or release due,
// oldest first, to this replica for lease: replicas settling at once take disjoint
// orders (SKIP LOCKED), and an order whose replica died is taken over once its lease
// has expired.
func (s store) claimSettlements(ctx context.Context, limit int, lease time.Duration) ([]settlement, error) {
	rows, err := s.db.Query(ctx, `UPDATE orders SET settling_until = now() + $2::interval
		WHERE id IN (SELECT id FROM orders
			WHERE (refund_due OR release_due) AND status = 'failed' AND (settling_until IS NULL OR settling_until < now())
			ORDER BY updated_at LIMIT $1 FOR UPDATE SKIP LOCKED)
		RETURNING id, failure_reason, refund_due, release_due`, limit, lease.String())
	if err != nil {
		return nil, fmt.Errorf("claim settlements: %w", err)
	}
	due, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (settlement, error) {
		var st settlement
		return st, r.Scan(&st.orderID, &st.reason, &st.refundDue, &st.releaseDue)
	})
	if err != nil {
		return nil, fmt.Errorf("claim settlements: %w", err)
	}
	return due, nil
}

// countRefundsDue counts the failed orders whose charge may still stand.
func (s store) countRefundsDue(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM orders WHERE refund_due`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count refunds due: %w", err)
	}
	return n, nil
}

// settled records what payments and inventory confirmed for a claimed order (the
// charge refunded or never made; the stock returned) and gives up its lease, so
// what is still owed is retried at the next pass, by whichever replica.
func (s store) settled(ctx context.Context, orderID string, refunded, released bool) error {
	if _, err := s.db.Exec(ctx, `UPDATE orders SET refund_due = refund_due AND NOT $2, release_due = release_due AND NOT $3,
		settling_until = NULL, updated_at = now() WHERE id = $1`, orderID, refunded, released); err != nil {
		return fmt.Errorf("record settlement: %w", err)
	}
	return nil
}

const orderColumns = `id, user_id, status, total_cents, currency, failure_reason, payment_id, shipping_address, created_at,
	coalesce(idempotency_key, ''), request_hash, coalesce(cart_version, 0)`

func (s store) scanOrders(ctx context.Context, sql string, args ...any) ([]Order, error) {
	orders, err := s.selectOrders(ctx, sql, args...)
	if err != nil || len(orders) == 0 {
		return orders, err
	}
	ids := make([]string, len(orders))
	byID := make(map[string]*Order, len(orders))
	for i := range orders {
		ids[i] = orders[i].ID
		byID[orders[i].ID] = &orders[i]
	}
	rows, err := s.db.Query(ctx, `SELECT order_id, product_id, quantity, price_cents FROM order_items
		WHERE order_id = ANY($1) ORDER BY product_id`, ids)
	if err != nil {
		return nil, fmt.Errorf("select order items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var it Item
		if err := rows.Scan(&id, &it.ProductID, &it.Quantity, &it.PriceCents); err != nil {
			return nil, fmt.Errorf("scan order item: %w", err)
		}
		byID[id].Items = append(byID[id].Items, it)
	}
	return orders, rows.Err()
}

// selectOrders reads orders without their items.
func (s store) selectOrders(ctx context.Context, sql string, args ...any) ([]Order, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("select orders: %w", err)
	}
	orders, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Order, error) {
		o := Order{Items: []Item{}}
		err := r.Scan(&o.ID, &o.UserID, &o.Status, &o.TotalCents, &o.Currency, &o.FailureReason, &o.PaymentID,
			&o.ShippingAddress, &o.CreatedAt, &o.IdempotencyKey, &o.RequestHash, &o.CartVersion)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("scan orders: %w", err)
	}
	return orders, nil
}

// listOneByOne is list as an ORM's lazy loading does it: the orders, then one
// query per order for its items (the N+1 queries of the ordersListNPlusOne fault).
func (s store) listOneByOne(ctx context.Context, userID string, limit int) ([]Order, error) {
	orders, err := s.selectOrders(ctx, `SELECT `+orderColumns+` FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2`, userID, limit)
	if err != nil {
		return nil, err
	}
	for i := range orders {
		rows, err := s.db.Query(ctx, `SELECT product_id, quantity, price_cents FROM order_items WHERE order_id = $1 ORDER BY product_id`, orders[i].ID)
		if err != nil {
			return nil, fmt.Errorf("select items of an order: %w", err)
		}
		orders[i].Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Item, error) {
			var it Item
			return it, r.Scan(&it.ProductID, &it.Quantity, &it.PriceCents)
		})
		if err != nil {
			return nil, fmt.Errorf("scan items of an order: %w", err)
		}
	}
	return orders, nil
}

// get returns the order only if it is userID's.
func (s store) get(ctx context.Context, userID, orderID string) (Order, error) {
	orders, err := s.scanOrders(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = $1 AND user_id = $2`, orderID, userID)
	if err != nil {
		return Order{}, err
	}
	if len(orders) == 0 {
		return Order{}, errNoOrder
	}
	return orders[0], nil
}

func (s store) byIdempotencyKey(ctx context.Context, userID, key string) (Order, error) {
	orders, err := s.scanOrders(ctx, `SELECT `+orderColumns+` FROM orders WHERE user_id = $1 AND idempotency_key = $2`, userID, key)
	if err != nil {
		return Order{}, err
	}
	if len(orders) == 0 {
		return Order{}, errNoOrder
	}
	return orders[0], nil
}

// liveByCartVersion returns the order, pending or placed, that bought this version
// of the user's cart.
func (s store) liveByCartVersion(ctx context.Context, userID string, version int64) (Order, error) {
	orders, err := s.scanOrders(ctx, `SELECT `+orderColumns+` FROM orders WHERE user_id = $1 AND cart_version = $2
		AND status <> 'failed'`, userID, version)
	if err != nil {
		return Order{}, err
	}
	if len(orders) == 0 {
		return Order{}, errNoOrder
	}
	return orders[0], nil
}

func (s store) list(ctx context.Context, userID string, limit int) ([]Order, error) {
	return s.scanOrders(ctx, `SELECT `+orderColumns+` FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2`, userID, limit)
}

// stalePending returns orders pending since before cutoff: their checkout died midway.
func (s store) stalePending(ctx context.Context, cutoff time.Time, limit int) ([]Order, error) {
	return s.scanOrders(ctx, `SELECT `+orderColumns+` FROM orders WHERE status = 'pending' AND created_at < $1
		ORDER BY created_at LIMIT $2`, cutoff, limit)
}
