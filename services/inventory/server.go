package inventory

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/ids"
	"github.com/otelshop/shop/services/inventory/inventorypb"
	"github.com/otelshop/shop/telemetry"
)

func recoverPanics(tel *telemetry.Telemetry) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				trace.SpanFromContext(ctx).RecordError(fmt.Errorf("panic: %v", p))
				tel.Logger.ErrorContext(ctx, "panic serving rpc", "method", info.FullMethod, "panic", fmt.Sprint(p))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return handler(ctx, req)
	}
}

type server struct {
	inventorypb.UnimplementedInventoryServer
	store  store
	ttl    time.Duration
	tel    *telemetry.Telemetry
	tracer trace.Tracer

	reservations metric.Int64Counter
	units        metric.Int64Counter
}

func newServer(st store, ttl time.Duration, tel *telemetry.Telemetry) *server {
	meter := tel.Meter(scope)
	s := &server{store: st, ttl: ttl, tel: tel, tracer: tel.Tracer(scope)}
	s.reservations, _ = meter.Int64Counter("shop.inventory.reservations",
		metric.WithDescription("Reservation operations, by operation (reserve, commit, release, expire) and outcome."))
	s.units, _ = meter.Int64Counter("shop.inventory.reserved_units",
		metric.WithDescription("Units of stock put on hold."))
	return s
}

func (s *server) count(ctx context.Context, op, outcome string) {
	s.reservations.Add(ctx, 1, metric.WithAttributes(attribute.String("operation", op), attribute.String("outcome", outcome)))
}

var orderIDPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

const (
	maxItems    = 50
	maxQuantity = 1000
	// maxStockRows bounds one SetStock: 20,000 rows once took 2.5 s of database time.
	maxStockRows = 1000
)

func validOrderID(id string) error {
	if !orderIDPattern.MatchString(id) {
		return status.Error(codes.InvalidArgument, "order_id must be 1 to 64 letters, digits or dashes")
	}
	return nil
}

func (s *server) GetStock(ctx context.Context, req *inventorypb.GetStockRequest) (*inventorypb.GetStockResponse, error) {
	if len(req.GetProductIds()) == 0 || len(req.GetProductIds()) > 100 {
		return nil, status.Error(codes.InvalidArgument, "ask for 1 to 100 products")
	}
	for _, id := range req.GetProductIds() {
		if !ids.Product(id) {
			return nil, status.Errorf(codes.InvalidArgument, "invalid product id %q", id)
		}
	}
	stock, err := s.store.getStock(ctx, req.GetProductIds())
	if err != nil {
		return nil, s.internal(ctx, err)
	}
	resp := &inventorypb.GetStockResponse{}
	for _, id := range req.GetProductIds() {
		if n, ok := stock[id]; ok {
			resp.Stock = append(resp.Stock, &inventorypb.Stock{ProductId: id, Available: n})
		}
	}
	return resp, nil
}

func (s *server) SetStock(ctx context.Context, req *inventorypb.SetStockRequest) (*inventorypb.SetStockResponse, error) {
	if len(req.GetStock()) > maxStockRows {
		return nil, status.Errorf(codes.InvalidArgument, "set at most %d products at once", maxStockRows)
	}
	stock := map[string]int32{}
	for _, st := range req.GetStock() {
		if !ids.Product(st.GetProductId()) || st.GetAvailable() < 0 {
			return nil, status.Errorf(codes.InvalidArgument, "invalid stock entry for %q", st.GetProductId())
		}
		stock[st.GetProductId()] = st.GetAvailable()
	}
	if len(stock) == 0 {
		return nil, status.Error(codes.InvalidArgument, "no stock given")
	}
	if err := s.store.setStock(ctx, stock); err != nil {
		return nil, s.internal(ctx, err)
	}
	return &inventorypb.SetStockResponse{}, nil
}

func (s *server) Reserve(ctx context.Context, req *inventorypb.ReserveRequest) (*inventorypb.ReserveResponse, error) {
	if err := validOrderID(req.GetOrderId()); err != nil {
		return nil, err
	}
	if n := len(req.GetItems()); n == 0 || n > maxItems {
		return nil, status.Errorf(codes.InvalidArgument, "reserve 1 to %d items", maxItems)
	}
	items := make([]Item, 0, len(req.GetItems()))
	var units int64
	for _, it := range req.GetItems() {
		if !ids.Product(it.GetProductId()) {
			return nil, status.Errorf(codes.InvalidArgument, "invalid product id %q", it.GetProductId())
		}
		if it.GetQuantity() < 1 || it.GetQuantity() > maxQuantity {
			return nil, status.Errorf(codes.InvalidArgument, "quantity of %s must be from 1 to %d", it.GetProductId(), maxQuantity)
		}
		items = append(items, Item{ProductID: it.GetProductId(), Quantity: it.GetQuantity()})
		units += int64(it.GetQuantity())
	}
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.Int("shop.order.items", len(items)), attribute.Int64("shop.order.units", units))
	st, expires, err := s.store.reserve(ctx, req.GetOrderId(), items, s.ttl, telemetry.Traceparent(ctx))
	var insufficient insufficientError
	switch {
	case errors.As(err, &insufficient):
		s.count(ctx, "reserve", "insufficient_stock")
		span.SetAttributes(attribute.String("shop.inventory.short_product", insufficient.productID))
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, errUnknownProduct):
		s.count(ctx, "reserve", "unknown_product")
		return nil, status.Error(codes.NotFound, err.Error())
	case err != nil:
		return nil, s.internal(ctx, err)
	}
	s.count(ctx, "reserve", st)
	if st == statusReserved {
		s.units.Add(ctx, units)
	}
	return &inventorypb.ReserveResponse{Status: toProto(st), ExpiresAtUnixMs: expires.UnixMilli()}, nil
}

func (s *server) Commit(ctx context.Context, req *inventorypb.CommitRequest) (*inventorypb.CommitResponse, error) {
	if err := validOrderID(req.GetOrderId()); err != nil {
		return nil, err
	}
	st, err := s.store.commit(ctx, req.GetOrderId())
	switch {
	case errors.Is(err, errNoReservation):
		s.count(ctx, "commit", "not_found")
		return nil, status.Error(codes.NotFound, err.Error())
	case errors.Is(err, errExpired), errors.Is(err, errReleased):
		s.count(ctx, "commit", "released")
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	case err != nil:
		return nil, s.internal(ctx, err)
	}
	s.count(ctx, "commit", st)
	return &inventorypb.CommitResponse{Status: toProto(st)}, nil
}

var reasonPattern = regexp.MustCompile(`^[a-z_]{0,40}$`)

func (s *server) Release(ctx context.Context, req *inventorypb.ReleaseRequest) (*inventorypb.ReleaseResponse, error) {
	if err := validOrderID(req.GetOrderId()); err != nil {
		return nil, err
	}
	if !reasonPattern.MatchString(req.GetReason()) {
		return nil, status.Error(codes.InvalidArgument, "reason must be a snake_case word")
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("shop.inventory.release_reason", req.GetReason()))
	st, err := s.store.release(ctx, req.GetOrderId(), req.GetReason())
	if errors.Is(err, errSold) {
		s.count(ctx, "release", "refused_committed")
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	if err != nil {
		return nil, s.internal(ctx, err)
	}
	s.count(ctx, "release", st)
	return &inventorypb.ReleaseResponse{Status: toProto(st)}, nil
}

func (s *server) Restock(ctx context.Context, req *inventorypb.RestockRequest) (*inventorypb.RestockResponse, error) {
	if err := validOrderID(req.GetOrderId()); err != nil {
		return nil, err
	}
	if !reasonPattern.MatchString(req.GetReason()) {
		return nil, status.Error(codes.InvalidArgument, "reason must be a snake_case word")
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("shop.inventory.release_reason", req.GetReason()))
	st, err := s.store.restock(ctx, req.GetOrderId(), req.GetReason())
	if errors.Is(err, errNoReservation) {
		s.count(ctx, "restock", "not_found")
		return nil, status.Error(codes.NotFound, err.Error())
	}
	if err != nil {
		return nil, s.internal(ctx, err)
	}
	s.count(ctx, "restock", st)
	s.tel.Logger.InfoContext(ctx, "committed stock returned for an order never placed", "order_id", req.GetOrderId(), "reason", req.GetReason())
	return &inventorypb.RestockResponse{Status: toProto(st)}, nil
}

// allowedCallers says who may call each method: orders runs the checkout,
// operators (admin) set stock.
var allowedCallers = map[string][]string{
	inventorypb.Inventory_Reserve_FullMethodName:  {"orders"},
	inventorypb.Inventory_Commit_FullMethodName:   {"orders"},
	inventorypb.Inventory_Release_FullMethodName:  {"orders"},
	inventorypb.Inventory_Restock_FullMethodName:  {"orders"},
	inventorypb.Inventory_GetStock_FullMethodName: {"orders", auth.RoleAdmin},
	inventorypb.Inventory_SetStock_FullMethodName: {auth.RoleAdmin},
}

func (s *server) internal(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	s.tel.Logger.ErrorContext(ctx, "inventory call failed", "error", err)
	return status.Error(codes.Unavailable, "inventory is unavailable")
}

func toProto(st string) inventorypb.ReservationStatus {
	switch st {
	case statusReserved:
		return inventorypb.ReservationStatus_RESERVATION_STATUS_RESERVED
	case statusCommitted:
		return inventorypb.ReservationStatus_RESERVATION_STATUS_COMMITTED
	case statusReleased:
		return inventorypb.ReservationStatus_RESERVATION_STATUS_RELEASED
	}
	return inventorypb.ReservationStatus_RESERVATION_STATUS_UNSPECIFIED
}
