// Package service is the shape every service of the shop has, as the composition
// root (internal/app) sees it: a Definition the registry lists once, the settings
// it reads, and the Runtime it is given to run on, an open listener among them.
//
// A service package declares `var Service = service.Definition{...}` and nothing
// else is needed for `shop <name>`, `shop all`, the usage text, the test harness
// and the end-to-end test to know it.
package service

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/telemetry"
)

// Protocol is what a service's listener speaks.
type Protocol string

// The protocols of the shop's services.
const (
	HTTP Protocol = "http"
	GRPC Protocol = "grpc"
)

// Store is a kind of store a service keeps its data in.
type Store string

// The stores of the shop.
const (
	Postgres Store = "postgres"
	Redis    Store = "redis"
	RabbitMQ Store = "rabbitmq"
)

// Definition is a service as the registry lists it.
type Definition struct {
	// Name is the subcommand, the service.name and the prefix of the service's own
	// environment variables (ORDERS_ADDR, ORDERS_URL).
	Name string
	// Port is the default port: the service listens on 127.0.0.1:Port unless
	// <NAME>_ADDR says otherwise, and is called there unless <NAME>_URL (HTTP) or
	// <NAME>_TARGET (gRPC) says otherwise.
	Port     int
	Protocol Protocol
	// Summary is the line `shop help` prints.
	Summary string
	// Calls lists the services it calls; Runtime.Peers has their addresses.
	Calls []string
	// Stores lists the stores it keeps data in.
	Stores []Store
	// Faults are the fault flags it evaluates (deploy/flags/shop.flags.json): the
	// failures it can be told to have, for drills.
	Faults []flags.Spec
	// Load reads the service's own settings (every malformed one is recorded in env)
	// and returns how to run it.
	Load func(env *Env) Runner
}

// Runner runs a service on its runtime until ctx ends, then stops it gracefully.
type Runner func(ctx context.Context, rt Runtime) error

// AddrEnv is the variable that sets where the service listens.
func (d Definition) AddrEnv() string { return envPrefix(d.Name) + "_ADDR" }

// PeerEnv is the variable that tells callers where to reach the service.
func (d Definition) PeerEnv() string {
	if d.Protocol == GRPC {
		return envPrefix(d.Name) + "_TARGET"
	}
	return envPrefix(d.Name) + "_URL"
}

// DefaultAddr is where the service listens when AddrEnv is unset: loopback only,
// so a service started on a laptop is not reachable from the network by accident.
func (d Definition) DefaultAddr() string { return fmt.Sprintf("127.0.0.1:%d", d.Port) }

// PeerAddress is how a caller reaches the service listening on addr: a URL for
// HTTP, host:port for gRPC.
func (d Definition) PeerAddress(addr string) string {
	if d.Protocol == GRPC {
		return addr
	}
	return "http://" + addr
}

func envPrefix(name string) string { return strings.ToUpper(strings.ReplaceAll(name, "-", "_")) }

// Runtime is what the composition root gives a running service.
type Runtime struct {
	Name      string
	Listener  net.Listener
	Telemetry *telemetry.Telemetry
	// Peers maps each service in Definition.Calls to its address (URL or target).
	Peers map[string]string
	// Stores are the shared store settings; a service opens its own database with them.
	Stores Stores
	// Identity is the service's own credentials for the calls it makes and the
	// guard for the calls it takes (nil for users, which issues the tokens and
	// makes its own).
	Identity *Identity
	// IssuerURL is where users, the token issuer, is reached.
	IssuerURL string
	// SecretsDir holds the clients' secrets (auth.SecretsDirEnv).
	SecretsDir string
	// Flags is the process's view of the flag file; a nil Set keeps every fault off.
	Flags *flags.Set
}

// Fault returns the handle of one of the service's faults.
func (rt Runtime) Fault(key string) *flags.Fault { return rt.Flags.Fault(key) }

// Identity is what a service proves and checks.
type Identity struct {
	Credentials *auth.Credentials
	Guard       auth.Guard
}

// Peer returns the address of a service this one calls.
func (rt Runtime) Peer(name string) string {
	addr, ok := rt.Peers[name]
	if !ok {
		// A Definition whose Calls lacks name: a programming error the first test catches.
		panic(fmt.Sprintf("service %s calls %s but does not list it in Calls", rt.Name, name))
	}
	return addr
}

// With binds the settings a Definition's Load read to the service's run function.
func With[S any](run func(context.Context, Runtime, S) error, settings S) Runner {
	return func(ctx context.Context, rt Runtime) error { return run(ctx, rt, settings) }
}

// NoSettings is Load for a service that reads no settings of its own.
func NoSettings(run Runner) func(*Env) Runner {
	return func(*Env) Runner { return run }
}
