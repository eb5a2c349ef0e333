package shoptest

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/services/inventory"
	"github.com/otelshop/shop/services/payments"
	"github.com/otelshop/shop/telemetry"
)

// Inventory returns a gRPC client of the shop's inventory service, without
// telemetry, calling as orders does (reservations and stock reads). The client is
// made once per shop and closed when the shop stops.
func (s *Shop) Inventory(t testing.TB) *inventory.Client {
	t.Helper()
	return s.inventoryAs(t, "orders")
}

// SetStock sets a product's stock as an operator does.
func (s *Shop) SetStock(t testing.TB, productID string, units int32) {
	t.Helper()
	if err := s.inventoryAs(t, auth.AdminClient).SetStock(context.Background(), map[string]int32{productID: units}); err != nil {
		t.Fatalf("set stock: %v", err)
	}
}

func (s *Shop) inventoryAs(t testing.TB, client string) *inventory.Client {
	t.Helper()
	creds := s.Credentials(t, client)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.inventory[client]; ok {
		return c
	}
	c, err := inventory.NewClient(s.InventoryTarget, s.clientTelemetry(t), creds)
	if err != nil {
		t.Fatalf("inventory client: %v", err)
	}
	s.inventory[client] = c
	return c
}

// Payments returns a client of the shop's payments service, without telemetry,
// that reaches it directly (not through PaymentsProxy) with orders' credentials.
func (s *Shop) Payments(t testing.TB) *payments.Client {
	t.Helper()
	creds := s.Credentials(t, "orders")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.payments == nil {
		s.payments = payments.NewClient(s.URL["payments"], http.DefaultClient, creds, s.clientTelemetry(t))
	}
	return s.payments
}

// Credentials are those of the named client (a service, or auth.AdminClient):
// its secret in the shop's secrets directory, made when missing, and the tokens
// users issues for it.
func (s *Shop) Credentials(t testing.TB, client string) *auth.Credentials {
	t.Helper()
	secret, err := auth.EnsureSecret(s.Env[auth.SecretsDirEnv], client)
	if err != nil {
		t.Fatalf("secret of %s: %v", client, err)
	}
	return &auth.Credentials{Client: client, Tokens: auth.RemoteTokens(s.URL["users"], client, secret, http.DefaultClient)}
}

// clientTelemetry is the disabled telemetry the fixtures' clients are built with.
func (s *Shop) clientTelemetry(t testing.TB) *telemetry.Telemetry {
	t.Helper()
	tel, err := telemetry.Start(context.Background(), telemetry.Config{ServiceName: "test", Disabled: true, LogOutput: s.Stdout})
	if err != nil {
		t.Fatalf("telemetry: %v", err)
	}
	return tel
}

// NewProduct adds a product to the catalogue with stock units in inventory and returns
// its id.
func (s *Shop) NewProduct(t testing.TB, priceCents int64, stock int32) string {
	t.Helper()
	id := "TEST-" + strings.ToUpper(RandomHex(4))
	api := httpx.Client{BaseURL: s.URL["catalog"], HTTP: http.DefaultClient, Authorize: s.Credentials(t, auth.AdminClient).Authorize}
	err := api.Do(context.Background(), http.MethodPost, "/v1/products", "/v1/products", nil, map[string]any{
		"id": id, "name": "Test product " + id, "description": "made by a test", "category": "testing",
		"price_cents": priceCents, "image_url": "https://images.shop.example/" + id + ".jpg",
	}, nil)
	if err != nil {
		t.Fatalf("create product: %v", err)
	}
	s.SetStock(t, id, stock)
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

// Connect returns a small pool of connections to the named service's database,
// made once per shop and closed when the shop stops, so tests may poll with it.
func (s *Shop) Connect(t testing.TB, service string) *pgxpool.Pool {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if db, ok := s.dbs[service]; ok {
		return db
	}
	u, err := url.Parse(s.PostgresURL)
	if err != nil {
		t.Fatalf("postgres url: %v", err)
	}
	u.Path = "/" + s.Prefix + "_" + service
	q := u.Query()
	q.Set("pool_max_conns", "4")
	u.RawQuery = q.Encode()
	db, err := pgxpool.New(context.Background(), u.String())
	if err != nil {
		t.Fatalf("connect to %s: %v", u.Path, err)
	}
	s.dbs[service] = db
	return db
}
