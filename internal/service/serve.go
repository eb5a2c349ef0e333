package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// DrainTimeout is how long a stopping server lets in-flight requests finish.
const DrainTimeout = 10 * time.Second

// ServeHTTP serves h on the service's listener until ctx ends, then stops
// accepting and drains the requests in flight.
func (rt Runtime) ServeHTTP(ctx context.Context, h http.Handler) error {
	return ServeHTTP(ctx, rt.Telemetry.Logger, rt.Name, rt.Listener, h)
}

// ServeGRPC serves s on the service's listener until ctx ends, then stops
// accepting and drains the calls in flight.
func (rt Runtime) ServeGRPC(ctx context.Context, s *grpc.Server) error {
	return Serve(ctx, rt.Telemetry.Logger, rt.Name, rt.Listener, s.Serve, func(ctx context.Context) error {
		stopped := make(chan struct{})
		go func() { s.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
			return nil
		case <-ctx.Done():
			s.Stop()
			return fmt.Errorf("calls still running after %s were cut", DrainTimeout)
		}
	})
}

// ServeHTTP serves h on ln until ctx ends, then drains, with the shop's server
// timeouts. Request contexts are not cancelled by ctx: a request in flight
// finishes during the drain.
func ServeHTTP(ctx context.Context, logger *slog.Logger, name string, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serve := func(ln net.Listener) error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	return Serve(ctx, logger, name, ln, serve, srv.Shutdown)
}

// Serve runs serve on ln until ctx ends, then calls drain with DrainTimeout to
// finish what is in flight; HTTP and gRPC servers both stop this way.
func Serve(ctx context.Context, logger *slog.Logger, name string, ln net.Listener,
	serve func(net.Listener) error, drain func(context.Context) error) error {
	logger.Info("listening", "server", name, "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- serve(ln) }()
	select {
	case err := <-errc:
		if err == nil {
			err = errors.New("stopped by itself")
		}
		return fmt.Errorf("%s: serve: %w", name, err)
	case <-ctx.Done():
	}
	drainCtx, cancel := context.WithTimeout(context.Background(), DrainTimeout)
	defer cancel()
	if err := drain(drainCtx); err != nil {
		return fmt.Errorf("%s: drain: %w", name, err)
	}
	if err := <-errc; err != nil {
		return fmt.Errorf("%s: serve: %w", name, err)
	}
	logger.Info("stopped", "server", name)
	return nil
}

// Ready asks the instance of the service listening at addr (host:port) whether it
// is ready: /readyz over HTTP, the gRPC health service for gRPC. A listener is open
// before its service serves, so a connection alone proves nothing.
func (d Definition) Ready(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if d.Protocol == GRPC {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return false
		}
		defer conn.Close()
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
