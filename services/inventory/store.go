package inventory

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelshop/shop/internal/demodata"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Reservation states, as stored.
const (
	statusReserved  = "reserved"
	statusCommitted = "committed"
	statusReleased  = "released"
)

// Item is a quantity of one product.
type Item struct {
	ProductID string
	Quantity  int32
}

var (
	errUnknownProduct = errors.New("unknown product")
	errNoReservation  = errors.New("no reservation for this order")
	errExpired        = errors.New("reservation expired")
	errReleased       = errors.New("reservation released")
)

// insufficientError names the product that ran out.
type insufficientError struct{ productID string }

func (e insufficientError) Error() string { return "insufficient stock of " + e.productID }

type store struct {
	db  *pgxpool.Pool
	now func() time.Time
}

func (s store) seed(ctx context.Context) (int64, error) {
	batch := &pgx.Batch{}
	for _, p := range demodata.Products() {
		// The seed goes in the ledger with the row it makes, in one statement: replicas
		// seeding at once stock each product once.
		batch.Queue(`WITH seeded AS (
				INSERT INTO stock (product_id, available) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING product_id, available)
			INSERT INTO stock_adjustments (product_id, delta, reason) SELECT product_id, available, 'seed' FROM seeded`,
			p.ID, demodata.InitialStock(p.ID))
	}
	br := s.db.SendBatch(ctx, batch)
	defer br.Close()
	var n int64
	for range batch.Len() {
		tag, err := br.Exec()
		if err != nil {
			return n, fmt.Errorf("seed stock: %w", err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}

func (s store) getStock(ctx context.Context, ids []string) (map[string]int32, error) {
	rows, err := s.db.Query(ctx, `SELECT product_id, available FROM stock WHERE product_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("select stock: %w", err)
	}
	defer rows.Close()
	out := map[string]int32{}
	for rows.Next() {
		var id string
		var n int32
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// setStock sets the stock on hand of products and records the difference each made
// in the ledger, in one transaction. Rows are locked in product order, as reserve
// locks them, so that concurrent changes neither deadlock nor miscount.
func (s store) setStock(ctx context.Context, stock map[string]int32) error {
	ids := make([]string, 0, len(stock))
	for id := range stock {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	units := make([]int32, len(ids))
	for i, id := range ids {
		units[i] = stock[id]
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// A new product gets its row first, at zero, so that its row can be locked too.
		if _, err := tx.Exec(ctx, `INSERT INTO stock (product_id, available) SELECT unnest($1::text[]), 0
			ON CONFLICT DO NOTHING`, ids); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT product_id, available FROM stock WHERE product_id = ANY($1)
			ORDER BY product_id FOR UPDATE`, ids)
		if err != nil {
			return err
		}
		before := map[string]int32{}
		for rows.Next() {
			var id string
			var n int32
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return err
			}
			before[id] = n
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE stock s SET available = i.available, updated_at = now()
			FROM unnest($1::text[], $2::integer[]) AS i(product_id, available) WHERE s.product_id = i.product_id`, ids, units); err != nil {
			return err
		}
		var changed []string
		var deltas []int32
		for i, id := range ids {
			if d := units[i] - before[id]; d != 0 {
				changed, deltas = append(changed, id), append(deltas, d)
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO stock_adjustments (product_id, delta, reason)
			SELECT product_id, delta, 'set' FROM unnest($1::text[], $2::integer[]) AS a(product_id, delta)`, changed, deltas)
		return err
	})
	if err != nil {
		return fmt.Errorf("set stock: %w", err)
	}
	return nil
}

// reserve holds every item for orderID or none. A second call for the same order
// returns the first call's outcome without touching stock.
func (s store) reserve(ctx context.Context, orderID string, items []Item, ttl time.Duration, traceparent string) (string, time.Time, error) {
	items = mergeItems(items)
	var status string
	var expires time.Time
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		expires = s.now().Add(ttl)
		tag, err := tx.Exec(ctx, `INSERT INTO reservations (order_id, status, expires_at, traceparent)
			VALUES ($1, 'reserved', $2, $3) ON CONFLICT (order_id) DO NOTHING`, orderID, expires, traceparent)
		if err != nil {
			return fmt.Errorf("insert reservation: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return tx.QueryRow(ctx, `SELECT status, expires_at FROM reservations WHERE order_id = $1`, orderID).Scan(&status, &expires)
		}
		status = statusReserved
		// Items in product order so that concurrent reservations lock rows in the same
		// order and cannot deadlock.
		for _, it := range items {
			tag, err := tx.Exec(ctx, `UPDATE stock SET available = available - $2, updated_at = now()
				WHERE product_id = $1 AND available >= $2`, it.ProductID, it.Quantity)
			if err != nil {
				return fmt.Errorf("deduct stock of %s: %w", it.ProductID, err)
			}
			if tag.RowsAffected() == 0 {
				var exists bool
				if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM stock WHERE product_id = $1)`, it.ProductID).Scan(&exists); err != nil {
					return err
				}
				if !exists {
					return fmt.Errorf("%w: %s", errUnknownProduct, it.ProductID)
				}
				return insufficientError{it.ProductID}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO reservation_items (order_id, product_id, quantity) VALUES ($1, $2, $3)`,
				orderID, it.ProductID, it.Quantity); err != nil {
				return fmt.Errorf("insert reservation item: %w", err)
			}
		}
		return nil
	})
	return status, expires, err
}

func mergeItems(items []Item) []Item {
	byID := map[string]int32{}
	for _, it := range items {
		byID[it.ProductID] += it.Quantity
	}
	merged := make([]Item, 0, len(byID))
	for id, q := range byID {
		merged = append(merged, Item{ProductID: id, Quantity: q})
	}
	sort.Slice(merged, func(i, j int) bool { return merged[i].ProductID < merged[j].ProductID })
	return merged
}

// commit turns a hold into a sale. A hold past its expiry is released instead, even if
// the expiry loop has not got to it yet: the order lost its claim on the stock.
func (s store) commit(ctx context.Context, orderID string) (string, error) {
	var status string
	expired := false
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var expires time.Time
		err := tx.QueryRow(ctx, `SELECT status, expires_at FROM reservations WHERE order_id = $1 FOR UPDATE`, orderID).Scan(&status, &expires)
		if errors.Is(err, pgx.ErrNoRows) {
			return errNoReservation
		}
		if err != nil {
			return fmt.Errorf("select reservation: %w", err)
		}
		switch status {
		case statusCommitted:
			return nil
		case statusReleased:
			return errReleased
		}
		if !expires.After(s.now()) {
			// Returned as nil so the release commits; the refusal is reported below.
			expired, status = true, statusReleased
			return releaseLocked(ctx, tx, orderID, "expired")
		}
		status = statusCommitted
		_, err = tx.Exec(ctx, `UPDATE reservations SET status = 'committed', updated_at = now() WHERE order_id = $1`, orderID)
		return err
	})
	if err == nil && expired {
		err = errExpired
	}
	return status, err
}

// errSold: a committed reservation is sold stock; Release does not return it.
var errSold = errors.New("the reservation is committed: the stock is sold")

// release returns an order's held stock. Releasing an unknown order leaves a
// released tombstone, so a Reserve that arrives late changes nothing. A committed
// reservation is refused (restock returns that, for an order never placed).
func (s store) release(ctx context.Context, orderID, reason string) (string, error) {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM reservations WHERE order_id = $1 FOR UPDATE`, orderID).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			_, err = tx.Exec(ctx, `INSERT INTO reservations (order_id, status, expires_at, release_reason)
				VALUES ($1, 'released', now(), $2) ON CONFLICT (order_id) DO NOTHING`, orderID, reason)
			return err
		}
		if err != nil {
			return fmt.Errorf("select reservation: %w", err)
		}
		switch status {
		case statusReleased:
			return nil
		case statusCommitted:
			return errSold
		}
		return releaseLocked(ctx, tx, orderID, reason)
	})
	if err != nil {
		return "", err
	}
	return statusReleased, nil
}

// restock returns the stock of an order's committed reservation (the order was
// never placed), and of a hold as release would. Twice is once.
func (s store) restock(ctx context.Context, orderID, reason string) (string, error) {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM reservations WHERE order_id = $1 FOR UPDATE`, orderID).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return errNoReservation
		}
		if err != nil {
			return fmt.Errorf("select reservation: %w", err)
		}
		if status == statusReleased {
			return nil
		}
		return releaseLocked(ctx, tx, orderID, reason)
	})
	if err != nil {
		return "", err
	}
	return statusReleased, nil
}

func releaseLocked(ctx context.Context, tx pgx.Tx, orderID, reason string) error {
	if _, err := tx.Exec(ctx, `UPDATE stock s SET available = s.available + ri.quantity, updated_at = now()
		FROM reservation_items ri WHERE ri.order_id = $1 AND s.product_id = ri.product_id`, orderID); err != nil {
		return fmt.Errorf("return stock: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE reservations SET status = 'released', release_reason = $2, updated_at = now()
		WHERE order_id = $1`, orderID, reason); err != nil {
		return fmt.Errorf("mark released: %w", err)
	}
	return nil
}

// dueReservation is a hold past its expiry.
type dueReservation struct {
	OrderID     string
	Traceparent string
}

// due lists up to limit holds past their expiry, oldest first.
func (s store) due(ctx context.Context, limit int) ([]dueReservation, error) {
	rows, err := s.db.Query(ctx, `SELECT order_id, traceparent FROM reservations
		WHERE status = 'reserved' AND expires_at <= $1 ORDER BY expires_at LIMIT $2`, s.now(), limit)
	if err != nil {
		return nil, fmt.Errorf("select due reservations: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (dueReservation, error) {
		var d dueReservation
		return d, r.Scan(&d.OrderID, &d.Traceparent)
	})
}

// expire releases orderID's hold if it is still held and past its expiry, and says
// whether it did. Replicas racing for the same hold release it once.
func (s store) expire(ctx context.Context, orderID string) (bool, error) {
	released := false
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var status string
		var expires time.Time
		err := tx.QueryRow(ctx, `SELECT status, expires_at FROM reservations WHERE order_id = $1 FOR UPDATE`, orderID).Scan(&status, &expires)
		if err != nil {
			return fmt.Errorf("select reservation: %w", err)
		}
		if status != statusReserved || expires.After(s.now()) {
			return nil
		}
		released = true
		return releaseLocked(ctx, tx, orderID, "expired")
	})
	return released, err
}
