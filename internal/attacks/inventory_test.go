package attacks_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/shoptest"
	"github.com/otelshop/shop/services/inventory/inventorypb"
)

// Inventory takes no RPC without a service's token: not SetStock, not the
// reservation of a whole stock, not the release of a placed order's stock. With
// orders' token it still refuses to release committed stock, to set stock (an
// operator's job) and to set 20,000 rows at once.
func TestInventory_RPCsNeedTheRightCaller(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	c := s.NewShopper(t)
	product := s.NewProduct(t, 1000, 5)
	c.AddToCart(product, 1)
	var order struct{ ID string }
	c.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), nil).Decode(t, &order)

	conn, err := grpc.NewClient(s.InventoryTarget, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rpc := inventorypb.NewInventoryClient(conn)
	as := func(client string) context.Context {
		if client == "" {
			return context.Background()
		}
		md, err := s.Credentials(t, client).GetRequestMetadata(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return metadata.NewOutgoingContext(context.Background(), metadata.New(md))
	}
	calls := map[string]func(ctx context.Context) error{
		"SetStock": func(ctx context.Context) error {
			_, err := rpc.SetStock(ctx, &inventorypb.SetStockRequest{Stock: []*inventorypb.Stock{{ProductId: product, Available: 1_000_000}}})
			return err
		},
		"Reserve all": func(ctx context.Context) error {
			_, err := rpc.Reserve(ctx, &inventorypb.ReserveRequest{OrderId: "attack-1", Items: []*inventorypb.Item{{ProductId: product, Quantity: 4}}})
			return err
		},
		"Release a placed order": func(ctx context.Context) error {
			_, err := rpc.Release(ctx, &inventorypb.ReleaseRequest{OrderId: order.ID, Reason: "attack"})
			return err
		},
		"Restock a placed order": func(ctx context.Context) error {
			_, err := rpc.Restock(ctx, &inventorypb.RestockRequest{OrderId: order.ID, Reason: "attack"})
			return err
		},
	}
	for name, call := range calls {
		for _, client := range []string{"", "gateway", "cart"} {
			if got := status.Code(call(as(client))); got != codes.Unauthenticated && got != codes.PermissionDenied {
				t.Errorf("%s as %q: %s, want Unauthenticated or PermissionDenied", name, client, got)
			}
		}
	}
	if got := status.Code(calls["Release a placed order"](as("orders"))); got != codes.FailedPrecondition {
		t.Errorf("orders releasing a placed order's committed stock: %s, want FailedPrecondition", got)
	}
	if got := status.Code(calls["SetStock"](as("orders"))); got != codes.PermissionDenied {
		t.Errorf("orders setting stock: %s, want PermissionDenied (an operator's job)", got)
	}
	many := &inventorypb.SetStockRequest{}
	for i := range 20_000 {
		many.Stock = append(many.Stock, &inventorypb.Stock{ProductId: fmt.Sprintf("BULK-%05d", i), Available: 1})
	}
	if _, err := rpc.SetStock(as(auth.AdminClient), many); status.Code(err) != codes.InvalidArgument {
		t.Errorf("20,000 rows in one SetStock: %v, want InvalidArgument", err)
	}
	if n := s.Stock(t, product); n != 4 {
		t.Errorf("stock %d after the attacks, want 4 (5 less the placed order's 1)", n)
	}
	// An operator sets stock; orders reserves.
	if err := calls["SetStock"](as(auth.AdminClient)); err != nil {
		t.Errorf("an operator setting stock: %v", err)
	}
	if err := calls["Reserve all"](as("orders")); err != nil {
		t.Errorf("orders reserving: %v", err)
	}
}
