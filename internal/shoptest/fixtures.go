package shoptest

import (
	"net/url"

	"context"
	"github.com/jackc/pgx/v5"
	"net/http"
	"strings"
	"testing"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/services/inventory"
	"github.com/otelshop/shop/telemetry"
)

// Inventory returns a gRPC client of the shop's inventory service, without telemetry.
func (s *Shop) Inventory(t testing.TB) *inventory.Client {
	t.Helper()
	tel, err := telemetry.Start(context.Background(), telemetry.Config{ServiceName: "test", Disabled: true, LogOutput: s.Stdout})
	if err != nil {
		t.Fatalf("telemetry: %v", err)
	}
	c, err := inventory.NewClient(s.InventoryTarget, tel)
	if err != nil {
		t.Fatalf("inventory client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// NewProduct adds a product to the catalogue with stock units in inventory and returns
// its id.
func (s *Shop) NewProduct(t testing.TB, priceCents int64, stock int32) string {
	t.Helper()
	id := "TEST-" + strings.ToUpper(randomHex(4))
	api := httpx.Client{BaseURL: s.URL["catalog"], HTTP: http.DefaultClient}
	err := api.Do(context.Background(), http.MethodPost, "/v1/products", "/v1/products", nil, map[string]any{
		"id": id, "name": "Test product " + id, "description": "made by a test", "category": "testing",
		"price_cents": priceCents, "image_url": "https://images.shop.example/" + id + ".jpg",
	}, nil)
	if err != nil {
		t.Fatalf("create product: %v", err)
	}
	if err := s.Inventory(t).SetStock(context.Background(), map[string]int32{id: stock}); err != nil {
		t.Fatalf("set stock: %v", err)
	}
	return id
}

// Stock returns the units of productID available now.
func (s *Shop) Stock(t testing.TB, productID string) int32 {
	t.Helper()
	stock, err := s.Inventory(t).Stock(context.Background(), []string{productID})
	if err != nil {
		t.Fatalf("read stock: %v", err)
	}
	n, ok := stock[productID]
	if !ok {
		t.Fatalf("no stock row for %s", productID)
	}
	return n
}

// Connect opens a connection to the named service's database, closed when the test ends.
func (s *Shop) Connect(t testing.TB, service string) *pgx.Conn {
	t.Helper()
	u, err := url.Parse(s.PostgresURL)
	if err != nil {
		t.Fatalf("postgres url: %v", err)
	}
	u.Path = "/" + s.Prefix + "_" + service
	conn, err := pgx.Connect(context.Background(), u.String())
	if err != nil {
		t.Fatalf("connect to %s: %v", u.Path, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
