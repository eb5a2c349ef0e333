// Package app is the composition root: the registry of the shop's services, and Run,
// which reads the configuration, opens every listener, starts each service with its
// own telemetry, serves the per-process admin endpoint, and stops everything in order.
// cmd/shop and the tests both start the shop through Run.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/internal/service"
	"github.com/otelshop/shop/services/cart"
	"github.com/otelshop/shop/services/catalog"
	"github.com/otelshop/shop/services/gateway"
	"github.com/otelshop/shop/services/inventory"
	"github.com/otelshop/shop/services/orders"
	"github.com/otelshop/shop/services/payments"
	"github.com/otelshop/shop/services/shipping"
	"github.com/otelshop/shop/services/users"
	"github.com/otelshop/shop/telemetry"
)

// Registry lists every service of the shop, in the order `shop all` starts them.
// Adding a service is one package and one line here.
var Registry = []service.Definition{
	users.Service,
	catalog.Service,
	cart.Service,
	inventory.Service,
	payments.Service,
	orders.Service,
	shipping.Service,
	gateway.Service,
}

// Lookup returns the registered service of that name.
func Lookup(name string) (service.Definition, bool) {
	i := slices.IndexFunc(Registry, func(d service.Definition) bool { return d.Name == name })
	if i < 0 {
		return service.Definition{}, false
	}
	return Registry[i], true
}

// Faults lists every service's fault flags, in registry order.
func Faults() []flags.Spec {
	var out []flags.Spec
	for _, d := range Registry {
		out = append(out, d.Faults...)
	}
	return out
}

// Names lists the registered services in start order.
func Names() []string {
	names := make([]string, len(Registry))
	for i, d := range Registry {
		names[i] = d.Name
	}
	return names
}

// AdminAddrEnv sets where a process serves its admin endpoint.
const AdminAddrEnv = "ADMIN_ADDR"

// DefaultAdminAddr is where the admin endpoint listens when AdminAddrEnv is unset.
const DefaultAdminAddr = "127.0.0.1:9464"

// Options say what to run and how.
type Options struct {
	Services    []string // names from the registry
	ProcessName string   // service.name of the process-wide telemetry
	Version     string
	Getenv      func(string) string
	Stdout      io.Writer
	// Telemetry, when set, adjusts each telemetry configuration before it starts
	// (tests put in-memory exporters here), and Started sees each one started.
	Telemetry func(*telemetry.Config)
	Started   func(*telemetry.Telemetry)
	// Bound, when set, is told the address of every listener (by service name, and
	// "admin") once all are open and before any service starts; the addresses it
	// returns, by service name, replace the ones callers would use (tests put fault
	// proxies between services this way).
	Bound func(addrs map[string]string) (peers map[string]string)
}

// Run runs the services until ctx ends or one of them fails, then stops them all and
// flushes their telemetry. Each service has its own telemetry, so each is its own
// service in every backend even when all share one process.
func Run(ctx context.Context, o Options) error {
	defs := make([]service.Definition, 0, len(o.Services))
	for _, name := range o.Services {
		d, ok := Lookup(name)
		if !ok {
			return fmt.Errorf("no service %q", name)
		}
		defs = append(defs, d)
	}
	env := service.NewEnv(o.Getenv)
	stores := service.LoadStores(env)
	adminAddr := env.String(AdminAddrEnv, DefaultAdminAddr)
	admin := adminSettings(env)
	secretsDir, err := auth.SecretsDir(o.Getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	runners := make([]service.Runner, len(defs))
	for i, d := range defs {
		runners[i] = d.Load(env)
	}
	if err := env.Err(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}

	// Every listener first: a port taken fails the start before anything runs, and
	// the services of this process call each other where they really listen.
	listeners := map[string]net.Listener{}
	defer func() {
		for _, ln := range listeners {
			ln.Close() // those Serve took over are closed already; this frees the rest
		}
	}()
	addrs := map[string]string{}
	listen := func(name, addr string) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: listen on %s: %w", name, addr, err)
		}
		listeners[name], addrs[name] = ln, ln.Addr().String()
		return nil
	}
	if err := listen("admin", adminAddr); err != nil {
		return err
	}
	for _, d := range defs {
		if err := listen(d.Name, env.String(d.AddrEnv(), d.DefaultAddr())); err != nil {
			return err
		}
	}
	peers := peerAddresses(o.Getenv, addrs)
	if o.Bound != nil {
		for name, addr := range o.Bound(addrs) {
			peers[name] = addr
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	base := telemetry.ConfigFromEnv(o.ProcessName, o.Version, o.Getenv)
	base.LogOutput = o.Stdout
	var tels []*telemetry.Telemetry
	defer func() {
		shutdownCtx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		for _, t := range slices.Backward(tels) {
			if err := t.Shutdown(shutdownCtx); err != nil {
				fmt.Fprintln(o.Stdout, "telemetry shutdown:", err)
			}
		}
	}()
	start := func(name string, processWide bool) (*telemetry.Telemetry, error) {
		c := base
		c.ServiceName, c.ProcessWide = name, processWide
		if o.Telemetry != nil {
			o.Telemetry(&c)
		}
		t, err := telemetry.Start(ctx, c)
		if err != nil {
			return nil, err
		}
		tels = append(tels, t)
		if o.Started != nil {
			o.Started(t)
		}
		return t, nil
	}
	process, err := start(o.ProcessName, true)
	if err != nil {
		return err
	}
	flagsCfg, err := flags.ConfigFromEnv(o.Getenv, Faults(), process)
	if err != nil {
		return err
	}
	faults, err := flags.Start(ctx, flagsCfg)
	if err != nil {
		return err
	}
	runtimes := make([]service.Runtime, len(defs))
	for i, d := range defs {
		tel := process
		if len(defs) > 1 {
			if tel, err = start(d.Name, false); err != nil {
				return err
			}
		}
		rt := service.Runtime{Name: d.Name, Listener: listeners[d.Name], Telemetry: tel,
			Peers: callees(d, peers), Stores: stores, IssuerURL: peers["users"], SecretsDir: secretsDir,
			Flags: faults}
		if d.Name != "users" { // users issues the tokens: it makes its own identity
			if rt.Identity, err = identity(ctx, rt); err != nil {
				return fmt.Errorf("%s: %w", d.Name, err)
			}
		}
		runtimes[i] = rt
	}

	g, gctx := errgroup.WithContext(ctx)
	adminLn := listeners["admin"]
	g.Go(func() error { return serveAdmin(gctx, adminLn, process, admin) })
	for i, run := range runners {
		rt := runtimes[i]
		g.Go(func() error {
			if err := run(gctx, rt); err != nil {
				rt.Telemetry.Logger.Error("service stopped", "error", err)
				return fmt.Errorf("%s: %w", rt.Name, err)
			}
			return nil
		})
	}
	err = g.Wait()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// identity gives a service its client secret (made on first start), the tokens
// users issues for it, and a guard checking tokens against users' published keys.
func identity(ctx context.Context, rt service.Runtime) (*service.Identity, error) {
	secret, err := auth.EnsureSecret(rt.SecretsDir, rt.Name)
	if err != nil {
		return nil, err
	}
	hc := rt.Telemetry.HTTPClient(5 * time.Second)
	keys := auth.NewRemoteKeys(ctx, rt.IssuerURL, hc, rt.Telemetry.Logger)
	return &service.Identity{
		Credentials: &auth.Credentials{Client: rt.Name, Tokens: auth.RemoteTokens(rt.IssuerURL, rt.Name, secret, hc)},
		Guard:       auth.Guard{Verifier: auth.NewVerifier(keys.Keyfunc())},
	}, nil
}

// peerAddresses is where each registered service is called: <NAME>_URL or
// <NAME>_TARGET when set, else where it listens in this process, else its
// default address on this machine.
func peerAddresses(getenv func(string) string, listening map[string]string) map[string]string {
	peers := map[string]string{}
	for _, d := range Registry {
		switch addr, ok := listening[d.Name]; {
		case getenv(d.PeerEnv()) != "":
			peers[d.Name] = getenv(d.PeerEnv())
		case ok:
			peers[d.Name] = d.PeerAddress(dialable(addr))
		default:
			peers[d.Name] = d.PeerAddress(d.DefaultAddr())
		}
	}
	return peers
}

// callees picks the addresses of the services d calls.
func callees(d service.Definition, peers map[string]string) map[string]string {
	out := make(map[string]string, len(d.Calls))
	for _, name := range d.Calls {
		out[name] = peers[name]
	}
	return out
}

// dialable turns a listening address into one to dial on this machine: a listener
// on every interface is reached on loopback.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
