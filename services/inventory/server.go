// Package inventory owns stock: a gRPC API to read and set it and to reserve, commit
// and release it for orders, every change idempotent by order id, with holds that
// expire when never committed. PostgreSQL database shop_inventory.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/otelshop/shop/internal/pg"
	"github.com/otelshop/shop/services/inventory/inventorypb"
	"github.com/otelshop/shop/telemetry"
)

const scope = "github.com/otelshop/shop/services/inventory"

// Config is what the inventory service needs.
type Config struct {
	Addr           string
	PostgresURL    string
	Database       string
	ReservationTTL time.Duration // how long an uncommitted hold lasts
	ExpiryInterval time.Duration // how often expired holds are looked for
}

// Run seeds stock for the demonstration catalogue, serves the gRPC API and releases
// expired holds until ctx ends.
func Run(ctx context.Context, cfg Config, tel *telemetry.Telemetry) error {
	db, err := pg.Open(ctx, cfg.PostgresURL, cfg.Database, migrationFiles, tel)
	if err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	defer db.Close()
	st := store{db: db, now: time.Now}
	if n, err := st.seed(ctx); err != nil {
		return fmt.Errorf("inventory: %w", err)
	} else if n > 0 {
		tel.Logger.Info("seeded stock", "products", n)
	}
	srv := newServer(st, cfg.ReservationTTL, tel)

	gs := grpc.NewServer(grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(tel.TracerProvider),
		otelgrpc.WithMeterProvider(tel.MeterProvider),
		otelgrpc.WithPropagators(tel.Propagator),
	)), grpc.ChainUnaryInterceptor(recoverPanics(tel)))
	inventorypb.RegisterInventoryServer(gs, srv)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("inventory: listen on %s: %w", cfg.Addr, err)
	}
	tel.Logger.Info("listening", "server", "inventory", "addr", ln.Addr().String(), "protocol", "grpc")

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	expiryDone := make(chan struct{})
	go func() {
		defer close(expiryDone)
		srv.expireLoop(ctx, cfg.ExpiryInterval)
	}()
	go watchReadiness(ctx, hs, db.Ping)

	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(ln) }()
	select {
	case err = <-errc:
		err = fmt.Errorf("inventory: serve: %w", err)
	case <-ctx.Done():
		hs.Shutdown()
		stopped := make(chan struct{})
		go func() { gs.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			gs.Stop()
		}
	}
	cancel()
	<-expiryDone
	tel.Logger.Info("stopped", "server", "inventory")
	return err
}

// watchReadiness keeps the gRPC health status in step with the database.
func watchReadiness(ctx context.Context, hs *health.Server, ping func(context.Context) error) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(telemetry.Unsampled(ctx), time.Second)
		st := healthpb.HealthCheckResponse_SERVING
		if ping(pctx) != nil {
			st = healthpb.HealthCheckResponse_NOT_SERVING
		}
		cancel()
		hs.SetServingStatus("", st)
		hs.SetServingStatus(inventorypb.Inventory_ServiceDesc.ServiceName, st)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

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

var (
	productIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,39}$`)
	orderIDPattern   = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
)

const (
	maxItems    = 50
	maxQuantity = 1000
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
		if !productIDPattern.MatchString(id) {
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
	stock := map[string]int32{}
	for _, st := range req.GetStock() {
		if !productIDPattern.MatchString(st.GetProductId()) || st.GetAvailable() < 0 {
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
		if !productIDPattern.MatchString(it.GetProductId()) {
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
	if err != nil {
		return nil, s.internal(ctx, err)
	}
	s.count(ctx, "release", st)
	return &inventorypb.ReleaseResponse{Status: toProto(st)}, nil
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
