package inventory

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelshop/shop/internal/storetest"
	"github.com/otelshop/shop/telemetry"
)

// Inventory at two replicas on one real database: reservation expiry releases each
// hold once, and the stock ledger balances whatever the replicas do at once.

func replicaServers(t *testing.T, db *pgxpool.Pool, n int, now func() time.Time) []*server {
	t.Helper()
	servers := make([]*server, n)
	for i := range servers {
		tel, err := telemetry.Start(context.Background(), telemetry.Config{ServiceName: "inventory-test", Disabled: true, LogOutput: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		servers[i] = newServer(store{db: db, now: now}, time.Minute, tel)
	}
	return servers
}

// unbalanced lists the products whose ledger does not balance:
// stocked (the sum of adjustments) - available != held + committed.
func unbalanced(t *testing.T, db *pgxpool.Pool) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), `
		SELECT s.product_id, coalesce(a.stocked, 0), s.available, coalesce(h.units, 0)
		FROM stock s
		LEFT JOIN (SELECT product_id, sum(delta) AS stocked FROM stock_adjustments GROUP BY product_id) a USING (product_id)
		LEFT JOIN (SELECT ri.product_id, sum(ri.quantity) AS units FROM reservation_items ri JOIN reservations r USING (order_id)
			WHERE r.status IN ('reserved', 'committed') GROUP BY ri.product_id) h USING (product_id)
		WHERE coalesce(a.stocked, 0) - s.available <> coalesce(h.units, 0)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		var stocked, available, held int64
		if err := rows.Scan(&id, &stocked, &available, &held); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s: stocked %d, available %d, held or sold %d", id, stocked, available, held))
	}
	return out
}

// Two expiry loops over the same expired holds release each once: every unit comes
// back once, and the ledger balances.
func TestExpiry_TwoReplicas_ReleaseEachHoldOnce(t *testing.T) {
	db := storetest.Database(t, migrationFiles)
	clock := time.Now()
	now := func() time.Time { return clock }
	servers := replicaServers(t, db, 2, now)
	st := servers[0].store
	ctx := context.Background()
	products := map[string]int32{"SKU-90001": 500, "SKU-90002": 500, "SKU-90003": 500}
	if err := st.setStock(ctx, products); err != nil {
		t.Fatal(err)
	}
	const holds = 60
	for i := range holds {
		items := []Item{{ProductID: "SKU-90001", Quantity: 2}, {ProductID: fmt.Sprintf("SKU-9000%d", 2+i%2), Quantity: 3}}
		if _, _, err := st.reserve(ctx, fmt.Sprintf("order-expiry-%03d", i), items, time.Second, ""); err != nil {
			t.Fatal(err)
		}
	}
	clock = clock.Add(time.Minute) // every hold is past its expiry now
	var fns []func()
	for _, s := range servers {
		fns = append(fns, func() { s.expireDue(ctx) })
	}
	storetest.InParallel(fns...)

	stock, err := st.getStock(ctx, []string{"SKU-90001", "SKU-90002", "SKU-90003"})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range products {
		if stock[id] != want {
			t.Errorf("%s: %d available after every hold expired, want %d (each hold returned once)", id, stock[id], want)
		}
	}
	var released int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM reservations WHERE status = 'released' AND release_reason = 'expired'`).Scan(&released); err != nil {
		t.Fatal(err)
	}
	if released != holds {
		t.Errorf("%d holds released by expiry, want %d", released, holds)
	}
	if bad := unbalanced(t, db); len(bad) > 0 {
		t.Errorf("the ledger does not balance: %v", bad)
	}
}

// Whatever two replicas do at once (operators setting stock, checkouts reserving,
// committing, releasing and restocking, seeding), every product's ledger balances.
func TestLedger_TwoReplicasAtOnce_StockConserved(t *testing.T) {
	db := storetest.Database(t, migrationFiles)
	servers := replicaServers(t, db, 2, time.Now)
	ctx := context.Background()
	var fns []func()
	for r, s := range servers {
		st := s.store
		fns = append(fns,
			func() {
				if _, err := st.seed(ctx); err != nil {
					t.Errorf("seed: %v", err)
				}
			},
			func() {
				for i := range 20 {
					if err := st.setStock(ctx, map[string]int32{"SKU-91001": int32(50 + 10*i + r), "SKU-91002": int32(80 - i)}); err != nil {
						t.Errorf("set stock: %v", err)
					}
				}
			},
			func() {
				for i := range 30 {
					order := fmt.Sprintf("order-ledger-%d-%02d", r, i)
					if _, _, err := st.reserve(ctx, order, []Item{{ProductID: "SKU-91001", Quantity: 2}, {ProductID: "SKU-91002", Quantity: 1}}, time.Minute, ""); err != nil {
						continue // out of stock while an operator lowered it: nothing held
					}
					switch i % 3 {
					case 0:
						_, _ = st.commit(ctx, order)
					case 1:
						_, _ = st.release(ctx, order, "test")
					case 2:
						_, _ = st.commit(ctx, order)
						_, _ = st.restock(ctx, order, "test")
					}
				}
			})
	}
	storetest.InParallel(fns...)
	if bad := unbalanced(t, db); len(bad) > 0 {
		t.Errorf("the ledger does not balance: %v", bad)
	}
	var seeded int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM (SELECT product_id FROM stock_adjustments WHERE reason = 'seed'
		GROUP BY product_id HAVING count(*) > 1) twice`).Scan(&seeded); err != nil {
		t.Fatal(err)
	}
	if seeded != 0 {
		t.Errorf("%d products seeded twice by two replicas", seeded)
	}
}
