package pg_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/otelshop/shop/internal/pg"
	"github.com/otelshop/shop/internal/shoptest"
	"github.com/otelshop/shop/telemetry"
)

var migrations = fstest.MapFS{
	"migrations/001_things.sql": {Data: []byte(`CREATE TABLE things (id int PRIMARY KEY);`)},
	"migrations/002_more.sql":   {Data: []byte(`ALTER TABLE things ADD COLUMN name text; INSERT INTO things VALUES (1, 'one');`)},
}

func testDatabase(t *testing.T) (server, name string, tel *telemetry.Telemetry) {
	t.Helper()
	st := shoptest.LocalStores(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name = "pgtest_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		if err := pg.DropDatabase(context.Background(), st.PostgresURL, name); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	tel, err := telemetry.Start(context.Background(), telemetry.Config{ServiceName: "pgtest", Disabled: true, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return st.PostgresURL, name, tel
}

// Replicas opening the same database at once create it once and apply each
// migration once, in name order.
func TestOpen_ConcurrentReplicasMigrateOnce(t *testing.T) {
	server, name, tel := testDatabase(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			db, err := pg.Open(ctx, server, name, migrations, tel)
			if err == nil {
				db.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a concurrent open failed: %v", err)
		}
	}
	db, err := pg.Open(ctx, server, name, migrations, tel)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var applied, things int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT count(*) FROM things`).Scan(&things); err != nil {
		t.Fatal(err)
	}
	if applied != 2 || things != 1 {
		t.Errorf("%d migrations recorded and %d rows of 002's insert; want 2 and 1 (each applied once)", applied, things)
	}
}

// A migration that fails is not recorded and names itself; the ones before it stay.
func TestOpen_FailingMigrationNamesItself(t *testing.T) {
	server, name, tel := testDatabase(t)
	broken := fstest.MapFS{
		"migrations/001_things.sql": migrations["migrations/001_things.sql"],
		"migrations/002_broken.sql": {Data: []byte(`ALTER TABLE nothing ADD COLUMN x int;`)},
	}
	_, err := pg.Open(context.Background(), server, name, broken, tel)
	if err == nil || !strings.Contains(err.Error(), "002_broken.sql") {
		t.Fatalf("open with a broken migration: %v, want it named", err)
	}
	db, err := pg.Open(context.Background(), server, name, fstest.MapFS{"migrations/001_things.sql": migrations["migrations/001_things.sql"]}, tel)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var names []string
	rows, err := db.Query(context.Background(), `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		names = append(names, n)
	}
	if strings.Join(names, ",") != "001_things.sql" {
		t.Errorf("recorded migrations %v, want only 001_things.sql", names)
	}
	if _, err := pg.Open(context.Background(), server, name, fstest.MapFS{}, tel); err == nil {
		t.Error("a service without migrations was accepted")
	}
}

// The pools' size comes from the server URL (pool_max_conns): N replicas of six
// services must fit the server's max_connections. The single connections that create
// and drop databases take the same URL without sending the pool's settings to the
// server, which would refuse them.
func TestOpen_PoolSizeFromTheServerURL(t *testing.T) {
	server, name, tel := testDatabase(t)
	sep := "?"
	if strings.Contains(server, "?") {
		sep = "&"
	}
	db, err := pg.Open(context.Background(), server+sep+"pool_max_conns=2", name, migrations, tel)
	if err != nil {
		t.Fatalf("open with pool_max_conns in the URL: %v", err)
	}
	defer db.Close()
	if n := db.Config().MaxConns; n != 2 {
		t.Errorf("pool of %d connections, want 2", n)
	}
	if err := pg.DropDatabase(context.Background(), server+sep+"pool_max_conns=2", name+"_none"); err != nil {
		t.Errorf("drop with pool_max_conns in the URL: %v", err)
	}
}
