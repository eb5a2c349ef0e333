package audit

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelshop/shop/internal/ids"
	"github.com/otelshop/shop/internal/service"
)

// Databases are the services' databases the audit reads.
type Databases struct {
	Orders, Payments, Inventory, Shipping *pgxpool.Pool
}

// Open connects to the four databases of the shop whose stores are st (the
// POSTGRES_URL server and POSTGRES_DB_PREFIX names every service uses). It never
// creates or migrates a database: the audit only reads. A read-only role is enough.
func Open(ctx context.Context, st service.Stores) (*Databases, error) {
	open := func(svc string) (*pgxpool.Pool, error) {
		u, err := url.Parse(st.PostgresURL)
		if err != nil {
			return nil, fmt.Errorf("POSTGRES_URL: %w", err)
		}
		u.Path = "/" + st.Database(svc)
		q := u.Query()
		q.Set("pool_max_conns", "2")
		q.Set("application_name", "shop audit")
		u.RawQuery = q.Encode()
		db, err := pgxpool.New(ctx, u.String())
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", st.Database(svc), err)
		}
		if err := db.Ping(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("database %s: %w", st.Database(svc), err)
		}
		return db, nil
	}
	dbs := &Databases{}
	for _, d := range []struct {
		name string
		pool **pgxpool.Pool
	}{{"orders", &dbs.Orders}, {"payments", &dbs.Payments}, {"inventory", &dbs.Inventory}, {"shipping", &dbs.Shipping}} {
		db, err := open(d.name)
		if err != nil {
			dbs.Close()
			return nil, err
		}
		*d.pool = db
	}
	return dbs, nil
}

// Close closes every connection.
func (d *Databases) Close() {
	for _, db := range []*pgxpool.Pool{d.Orders, d.Payments, d.Inventory, d.Shipping} {
		if db != nil {
			db.Close()
		}
	}
}

type order struct {
	status, failureReason, paymentID string
	totalCents                       int64
	refundDue, releaseDue            bool
	createdAt, updatedAt             time.Time
	items                            map[string]int // product → quantity
	// late: read after the other databases, because they knew it and the first
	// snapshot did not; only its existence and whether it is placed are judged.
	late bool
}

type charge struct {
	id, status  string
	amountCents int64
	refunded    bool
}

type reservation struct {
	status    string
	expiresAt time.Time
	items     map[string]int
}

type productStock struct {
	stocked, available, held, committed int64
}

// snapshot is what the audit read: each database as one consistent snapshot.
type snapshot struct {
	ordersNow, inventoryNow time.Time
	orders                  map[string]*order       // by order id
	charges                 map[string]charge       // by idempotency key
	reservations            map[string]*reservation // by order id
	shipments               map[string]int          // shipments by order id
	stock                   map[string]productStock // by product id
	later                   map[string]string       // status of the orders read again at the end
}

// read takes the snapshots in the order the shop writes: an order row exists
// before its hold, its charge and its shipment; a placed order's charge and commit
// exist before it is placed; a failed order's refund and release are done (or
// marked due on the order) before it is marked failed. Whatever payments,
// inventory or shipping know of an order the orders snapshot did not is looked up
// again at the end.
func read(ctx context.Context, dbs *Databases, opts Options) (*snapshot, error) {
	s := &snapshot{orders: map[string]*order{}, charges: map[string]charge{}, reservations: map[string]*reservation{},
		shipments: map[string]int{}, stock: map[string]productStock{}}
	since := opts.Since
	if since.IsZero() {
		since = time.Unix(0, 0)
	}
	if err := snapshotOf(ctx, dbs.Orders, "orders", func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&s.ordersNow); err != nil {
			return err
		}
		return readOrders(ctx, tx, s, `WHERE o.created_at >= $1`, since)
	}); err != nil {
		return nil, err
	}
	if err := snapshotOf(ctx, dbs.Payments, "payments", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT c.id::text, c.idempotency_key, c.status, c.amount_cents,
			EXISTS (SELECT 1 FROM refunds r WHERE r.charge_id = c.id) FROM charges c WHERE c.created_at >= $1`, since)
		if err != nil {
			return err
		}
		var key string
		var c charge
		_, err = pgx.ForEachRow(rows, []any{&c.id, &key, &c.status, &c.amountCents, &c.refunded}, func() error {
			s.charges[key] = c
			return nil
		})
		return err
	}); err != nil {
		return nil, err
	}
	if err := snapshotOf(ctx, dbs.Inventory, "inventory", func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&s.inventoryNow); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT order_id, status, expires_at FROM reservations WHERE created_at >= $1`, since)
		if err != nil {
			return err
		}
		var id string
		var r reservation
		if _, err := pgx.ForEachRow(rows, []any{&id, &r.status, &r.expiresAt}, func() error {
			s.reservations[id] = &reservation{status: r.status, expiresAt: r.expiresAt, items: map[string]int{}}
			return nil
		}); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT ri.order_id, ri.product_id, ri.quantity FROM reservation_items ri
			JOIN reservations r USING (order_id) WHERE r.status <> 'released' AND r.created_at >= $1`, since)
		if err != nil {
			return err
		}
		var product string
		var quantity int
		if _, err := pgx.ForEachRow(rows, []any{&id, &product, &quantity}, func() error {
			if r := s.reservations[id]; r != nil {
				r.items[product] += quantity
			}
			return nil
		}); err != nil {
			return err
		}
		// What was ever stocked (the ledger), on hand, held and committed, per product.
		rows, err = tx.Query(ctx, `SELECT s.product_id, coalesce(a.stocked, 0), s.available,
				coalesce(h.held, 0), coalesce(h.committed, 0)
			FROM stock s
			LEFT JOIN (SELECT product_id, sum(delta) AS stocked FROM stock_adjustments GROUP BY product_id) a USING (product_id)
			LEFT JOIN (SELECT ri.product_id,
					sum(ri.quantity) FILTER (WHERE r.status = 'reserved') AS held,
					sum(ri.quantity) FILTER (WHERE r.status = 'committed') AS committed
				FROM reservation_items ri JOIN reservations r USING (order_id) GROUP BY ri.product_id) h USING (product_id)`)
		if err != nil {
			return err
		}
		var p productStock
		_, err = pgx.ForEachRow(rows, []any{&product, &p.stocked, &p.available, &p.held, &p.committed}, func() error {
			s.stock[product] = p
			return nil
		})
		return err
	}); err != nil {
		return nil, err
	}
	if err := snapshotOf(ctx, dbs.Shipping, "shipping", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT order_id::text, count(*) FROM shipments WHERE created_at >= $1 GROUP BY order_id`, since)
		if err != nil {
			return err
		}
		var id string
		var n int
		_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
			s.shipments[id] = n
			return nil
		})
		return err
	}); err != nil {
		return nil, err
	}

	// Orders the other services know and the first snapshot did not: made since it
	// was taken (in flight), or older than Since, or none at all.
	var missing []string
	note := func(id string) {
		if _, ok := s.orders[id]; !ok {
			if id, ok := ids.UUID(id); ok {
				missing = append(missing, id)
			}
		}
	}
	for key := range s.charges {
		if id, ok := orderOfKey(key); ok {
			note(id)
		}
	}
	for id, r := range s.reservations {
		if r.status != "released" {
			note(id)
		}
	}
	for id := range s.shipments {
		if o, ok := s.orders[id]; ok && o.status == "pending" {
			// Placed and shipped since the orders snapshot.
			if id, ok := ids.UUID(id); ok {
				missing = append(missing, id)
			}
		}
		note(id)
	}
	if len(missing) > 0 {
		// Read again now: an order row is written before anything else of its checkout.
		later := &snapshot{orders: map[string]*order{}}
		if err := snapshotOf(ctx, dbs.Orders, "orders", func(tx pgx.Tx) error {
			return readOrders(ctx, tx, later, `WHERE o.id = ANY($1::uuid[])`, missing)
		}); err != nil {
			return nil, err
		}
		s.later = map[string]string{}
		for id, o := range later.orders {
			s.later[id] = o.status
			if _, ok := s.orders[id]; !ok {
				o.late = true
				s.orders[id] = o
			}
		}
	}
	return s, nil
}

// readOrders reads orders (with the given WHERE clause on o) and their items.
func readOrders(ctx context.Context, tx pgx.Tx, s *snapshot, where string, arg any) error {
	rows, err := tx.Query(ctx, `SELECT o.id::text, o.status, o.failure_reason, o.payment_id, o.total_cents, o.refund_due,
		o.release_due, o.created_at, o.updated_at FROM orders o `+where, arg)
	if err != nil {
		return err
	}
	var id string
	var o order
	if _, err := pgx.ForEachRow(rows, []any{&id, &o.status, &o.failureReason, &o.paymentID, &o.totalCents, &o.refundDue,
		&o.releaseDue, &o.createdAt, &o.updatedAt}, func() error {
		c := o
		c.items = map[string]int{}
		s.orders[id] = &c
		return nil
	}); err != nil {
		return err
	}
	rows, err = tx.Query(ctx, `SELECT i.order_id::text, i.product_id, i.quantity FROM order_items i
		JOIN orders o ON o.id = i.order_id `+where, arg)
	if err != nil {
		return err
	}
	var product string
	var quantity int
	_, err = pgx.ForEachRow(rows, []any{&id, &product, &quantity}, func() error {
		if o := s.orders[id]; o != nil {
			o.items[product] += quantity
		}
		return nil
	})
	return err
}

// snapshotOf runs read in one read-only, repeatable-read transaction: everything
// it reads of one database is of one moment.
func snapshotOf(ctx context.Context, db *pgxpool.Pool, name string, read func(pgx.Tx) error) error {
	err := pgx.BeginTxFunc(ctx, db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, read)
	if err != nil {
		var hint string
		if strings.Contains(err.Error(), "does not exist") {
			hint = " (is the database at this version of the shop? each service migrates its own on start)"
		}
		return fmt.Errorf("read the %s database: %w%s", name, err, hint)
	}
	return nil
}

// orderOfKey is the order a charge's idempotency key names (order-<id>).
func orderOfKey(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "order-")
	if !ok {
		return "", false
	}
	return ids.UUID(rest)
}
