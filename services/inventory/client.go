package inventory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/resilience"
	"github.com/otelshop/shop/services/inventory/inventorypb"
	"github.com/otelshop/shop/telemetry"
)

// Errors a caller acts on.
var (
	ErrInsufficientStock = errors.New("insufficient stock")
	ErrUnknownProduct    = errors.New("unknown product")
	// ErrNotHeld: the order's hold is gone (expired or released), so it cannot commit.
	ErrNotHeld = errors.New("reservation not held")
	// ErrSold: the reservation is committed; only Restock returns its stock.
	ErrSold = errors.New("reservation committed")
)

// Client calls inventory over gRPC. Every call is idempotent by order id, so each is
// retried with backoff on transient failures, behind a circuit breaker, with a
// deadline per attempt.
type Client struct {
	conn  *grpc.ClientConn
	rpc   inventorypb.InventoryClient
	guard *resilience.Guard
}

// NewClient connects (lazily) to the inventory service at target (host:port),
// calling with creds.
func NewClient(target string, tel *telemetry.Telemetry, creds *auth.Credentials) (*Client, error) {
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(creds),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(
			otelgrpc.WithTracerProvider(tel.TracerProvider),
			otelgrpc.WithMeterProvider(tel.MeterProvider),
			otelgrpc.WithPropagators(tel.Propagator),
		)))
	if err != nil {
		return nil, fmt.Errorf("inventory client: %w", err)
	}
	return &Client{
		conn:  conn,
		rpc:   inventorypb.NewInventoryClient(conn),
		guard: resilience.NewGuard("inventory", tel, dependencyFailed, 2*time.Second),
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// dependencyFailed says whether an error is the inventory service failing, as opposed
// to an answer about stock.
func dependencyFailed(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Unknown, codes.ResourceExhausted:
		return true
	}
	return false
}

func (c *Client) call(ctx context.Context, fn func(context.Context) error) error {
	err := c.guard.Do(ctx, dependencyFailed, fn)
	switch status.Code(err) {
	case codes.FailedPrecondition:
		return fmt.Errorf("%w: %s", ErrInsufficientStock, status.Convert(err).Message())
	case codes.NotFound:
		return fmt.Errorf("%w: %s", ErrUnknownProduct, status.Convert(err).Message())
	}
	return err
}

// Reserve holds items for orderID. ErrInsufficientStock and ErrUnknownProduct say why
// it could not; ErrNotHeld that the order was released before.
func (c *Client) Reserve(ctx context.Context, orderID string, items []Item) error {
	req := &inventorypb.ReserveRequest{OrderId: orderID}
	for _, it := range items {
		req.Items = append(req.Items, &inventorypb.Item{ProductId: it.ProductID, Quantity: it.Quantity})
	}
	var resp *inventorypb.ReserveResponse
	err := c.call(ctx, func(ctx context.Context) (err error) {
		resp, err = c.rpc.Reserve(ctx, req)
		return err
	})
	if err != nil {
		return err
	}
	if resp.GetStatus() == inventorypb.ReservationStatus_RESERVATION_STATUS_RELEASED {
		return ErrNotHeld
	}
	return nil
}

// Commit turns orderID's hold into a sale; ErrNotHeld when the hold is gone.
func (c *Client) Commit(ctx context.Context, orderID string) error {
	err := c.call(ctx, func(ctx context.Context) error {
		_, err := c.rpc.Commit(ctx, &inventorypb.CommitRequest{OrderId: orderID})
		return err
	})
	if errors.Is(err, ErrInsufficientStock) || errors.Is(err, ErrUnknownProduct) {
		return fmt.Errorf("%w: %v", ErrNotHeld, err)
	}
	return err
}

// Release returns orderID's held stock, recording reason; ErrSold when the
// reservation is committed.
func (c *Client) Release(ctx context.Context, orderID, reason string) error {
	err := c.call(ctx, func(ctx context.Context) error {
		_, err := c.rpc.Release(ctx, &inventorypb.ReleaseRequest{OrderId: orderID, Reason: reason})
		return err
	})
	if errors.Is(err, ErrInsufficientStock) { // FAILED_PRECONDITION: committed
		return fmt.Errorf("%w: %v", ErrSold, err)
	}
	return err
}

// Restock returns the stock of orderID's committed reservation: its order was
// never placed.
func (c *Client) Restock(ctx context.Context, orderID, reason string) error {
	return c.call(ctx, func(ctx context.Context) error {
		_, err := c.rpc.Restock(ctx, &inventorypb.RestockRequest{OrderId: orderID, Reason: reason})
		return err
	})
}

// Stock returns the units available of each known product among ids.
func (c *Client) Stock(ctx context.Context, ids []string) (map[string]int32, error) {
	var resp *inventorypb.GetStockResponse
	err := c.call(ctx, func(ctx context.Context) (err error) {
		resp, err = c.rpc.GetStock(ctx, &inventorypb.GetStockRequest{ProductIds: ids})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]int32, len(resp.GetStock()))
	for _, s := range resp.GetStock() {
		out[s.GetProductId()] = s.GetAvailable()
	}
	return out, nil
}

// SetStock sets the available units of products.
func (c *Client) SetStock(ctx context.Context, stock map[string]int32) error {
	req := &inventorypb.SetStockRequest{}
	for id, n := range stock {
		req.Stock = append(req.Stock, &inventorypb.Stock{ProductId: id, Available: n})
	}
	return c.call(ctx, func(ctx context.Context) error {
		_, err := c.rpc.SetStock(ctx, req)
		return err
	})
}
