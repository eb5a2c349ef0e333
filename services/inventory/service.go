// Package inventory owns stock: a gRPC API to read and set it and to reserve, commit
// and release it for orders, every change idempotent by order id, with holds that
// expire when never committed. PostgreSQL database shop_inventory.
package inventory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/otelshop/shop/internal/service"
	"github.com/otelshop/shop/services/inventory/inventorypb"
	"github.com/otelshop/shop/telemetry"
)

const scope = "github.com/otelshop/shop/services/inventory"

// Config is what the inventory service reads.
type Config struct {
	ReservationTTL time.Duration // how long an uncommitted hold lasts
	ExpiryInterval time.Duration // how often expired holds are looked for
}

// Service is the inventory service as the registry lists it.
var Service = service.Definition{
	Name: "inventory", Port: 8084, Protocol: service.GRPC,
	Summary: "stock, gRPC",
	Stores:  []service.Store{service.Postgres},
	Faults:  faults,
	Load: func(env *service.Env) service.Runner {
		cfg := Config{
			ReservationTTL: env.PositiveDuration("RESERVATION_TTL", 2*time.Minute),
			ExpiryInterval: env.PositiveDuration("RESERVATION_EXPIRY_INTERVAL", 5*time.Second),
		}
		return service.With(run, cfg)
	},
}

// run seeds stock for the demonstration catalogue, serves the gRPC API and releases
// expired holds until ctx ends.
func run(ctx context.Context, rt service.Runtime, cfg Config) error {
	tel := rt.Telemetry
	db, err := rt.Postgres(ctx, migrationFiles)
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
	)), grpc.ChainUnaryInterceptor(recoverPanics(tel), rt.Identity.Guard.UnaryGuard(allowedCallers),
		shedLoad(rt.Fault(faultUnavailable))))
	inventorypb.RegisterInventoryServer(gs, srv)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)

	var wg sync.WaitGroup
	bg, stopBackground := context.WithCancel(ctx)
	wg.Go(func() { service.Every(bg, cfg.ExpiryInterval, nil, srv.expireDue) })
	wg.Go(func() {
		ready := readiness(hs, db.Ping)
		ready(bg)
		service.Every(bg, 2*time.Second, nil, ready)
	})
	err = rt.ServeGRPC(ctx, gs)
	hs.Shutdown()
	stopBackground()
	wg.Wait()
	return err
}

// readiness keeps the gRPC health status in step with the database.
func readiness(hs *health.Server, ping func(context.Context) error) func(context.Context) {
	return func(ctx context.Context) {
		pctx, cancel := context.WithTimeout(telemetry.Unsampled(ctx), time.Second)
		defer cancel()
		st := healthpb.HealthCheckResponse_SERVING
		if ping(pctx) != nil {
			st = healthpb.HealthCheckResponse_NOT_SERVING
		}
		hs.SetServingStatus("", st)
		hs.SetServingStatus(inventorypb.Inventory_ServiceDesc.ServiceName, st)
	}
}
