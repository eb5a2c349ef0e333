package localstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/service"
)

// ShopConfig says how to run the shop as compose does: one process per
// service, each with its own admin endpoint, sending to the stack's collector
// and profile stand-in.
type ShopConfig struct {
	// Binary is the shop binary.
	Binary string
	// Env is added to every process after the defaults (a later entry wins).
	Env []string
	// Port moves a service's default port (nil keeps it).
	Port func(defaultPort int) int
	// AdminAddr is the admin endpoint of the i-th service of the registry;
	// nil means DefaultAdminAddr(i).
	AdminAddr func(i int) string
	// OwnCopies runs each process from a copy of its own of the binary, so
	// each is charged for the pages of it that it faults in (memory limits).
	OwnCopies bool
	// Adjust may change each process before it starts.
	Adjust func(*Process)
}

// DefaultAdminAddr is where local mode puts the admin endpoint of the i-th
// service of the registry: 9464 upwards, as the collector's SHOP_METRICS_TARGETS
// default for local mode lists them.
func DefaultAdminAddr(i int) string { return fmt.Sprintf("127.0.0.1:%d", 9464+i) }

// ShopEnv is what every shop process of local mode is given: the collector and
// the profile stand-in as telemetry backends, the export intervals compose
// ships, and the repository's flag file.
func (s *Stack) ShopEnv() []string {
	return []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + CollectorOTLPGRPC,
		"OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_METRIC_EXPORT_INTERVAL=10000",
		"OTEL_BSP_SCHEDULE_DELAY=1000",
		"OTEL_BLRP_SCHEDULE_DELAY=1000",
		"PYROSCOPE_SERVER_ADDRESS=" + PyroscopeURL,
		"DEPLOYMENT_ENVIRONMENT=local",
		"FLAGS_FILE=" + filepath.Join(s.cfg.Root, "deploy", "flags", "shop.flags.json"),
		// The bundled load generator is hundreds of shoppers behind one address:
		// budgets per address that let it through (compose.yaml sets the same).
		"RATE_LIMIT_RPS=500", "RATE_LIMIT_BURST=1000",
		"LOGIN_RATE_LIMIT_RPS=50", "LOGIN_RATE_LIMIT_BURST=100",
	}
}

// MetricsTargets lists the admin endpoints the collector scrapes, as a YAML
// list for SHOP_METRICS_TARGETS.
func MetricsTargets(adminAddr func(int) string) string {
	if adminAddr == nil {
		adminAddr = DefaultAdminAddr
	}
	targets := make([]string, len(app.Registry))
	for i := range app.Registry {
		targets[i] = adminAddr(i)
	}
	return "[" + strings.Join(targets, ", ") + "]"
}

// RunShop starts every registered service as its own process, in registry
// order, each ready before the next starts.
func (s *Stack) RunShop(ctx context.Context, cfg ShopConfig) error {
	port := cfg.Port
	if port == nil {
		port = func(p int) int { return p }
	}
	adminAddr := cfg.AdminAddr
	if adminAddr == nil {
		adminAddr = DefaultAdminAddr
	}
	var addresses []string
	for _, d := range app.Registry {
		addr := fmt.Sprintf("127.0.0.1:%d", port(d.Port))
		addresses = append(addresses, d.AddrEnv()+"="+addr, d.PeerEnv()+"="+d.PeerAddress(addr))
	}
	for i, d := range app.Registry {
		env := append(append(append(s.ShopEnv(), addresses...), app.AdminAddrEnv+"="+adminAddr(i)), cfg.Env...)
		health := fmt.Sprintf("http://127.0.0.1:%d/readyz", port(d.Port))
		if d.Protocol == service.GRPC { // its process's admin endpoint says it is up
			health = "http://" + adminAddr(i) + "/healthz"
		}
		bin := cfg.Binary
		if cfg.OwnCopies {
			var err error
			if bin, err = OwnCopy(cfg.Binary, d.Name); err != nil {
				return err
			}
		}
		p := Process{Name: d.Name, Path: bin, Args: []string{d.Name}, Env: env, HealthURL: health,
			Dir: s.cfg.Root, ComposeService: d.Name, URL: fmt.Sprintf("http://127.0.0.1:%d", port(d.Port))}
		if cfg.Adjust != nil {
			cfg.Adjust(&p)
		}
		if _, err := s.Run(ctx, p); err != nil {
			return fmt.Errorf("start %s: %w", d.Name, err)
		}
	}
	return nil
}

// OwnCopy copies the shop binary for one process. Each container of the shop
// may be the first to fault the image's binary in, and is then charged for its
// pages; a copy of its own makes every process pay for them under its limit
// (the stack evicts the file from the page cache first).
func OwnCopy(bin, name string) (string, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	out := bin + "-" + name
	if err := os.WriteFile(out, data, 0o755); err != nil {
		return "", err
	}
	return out, nil
}
