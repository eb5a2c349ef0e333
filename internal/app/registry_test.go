package app

import (
	"context"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/service"
)

// The registry is what every list of services is made from: names and ports
// unique, each called service registered, no service calling itself or in a cycle
// (a start order exists), every one with a way to run.
func TestRegistry_IsConsistent(t *testing.T) {
	names, ports := map[string]bool{}, map[int]string{}
	for _, d := range Registry {
		if d.Name == "" || d.Summary == "" || d.Load == nil || (d.Protocol != service.HTTP && d.Protocol != service.GRPC) {
			t.Errorf("%+v: a service needs a name, a summary, a protocol and Load", d)
		}
		if names[d.Name] {
			t.Errorf("%s registered twice", d.Name)
		}
		names[d.Name] = true
		if other, ok := ports[d.Port]; ok || d.Port == 9464 || d.Port <= 0 {
			t.Errorf("%s: port %d is taken (by %q or the admin endpoint)", d.Name, d.Port, other)
		}
		ports[d.Port] = d.Name
	}
	visiting, done := map[string]bool{}, map[string]bool{}
	var visit func(name string, path []string)
	visit = func(name string, path []string) {
		if visiting[name] {
			t.Errorf("call cycle: %s", strings.Join(append(path, name), " -> "))
			return
		}
		if done[name] {
			return
		}
		visiting[name] = true
		d, ok := Lookup(name)
		if !ok {
			t.Errorf("%s calls %s, which is not registered", path[len(path)-1], name)
			return
		}
		for _, callee := range d.Calls {
			visit(callee, append(path, name))
		}
		visiting[name], done[name] = false, true
	}
	for _, d := range Registry {
		visit(d.Name, []string{"registry"})
	}
}

// Bad settings are all reported before anything starts, and a service name the
// registry lacks is refused.
func TestRun_RefusesBadConfigurationBeforeStarting(t *testing.T) {
	vars := map[string]string{"OUTBOX_INTERVAL": "often", "BCRYPT_COST": "40", "PAYMENTS_FAILURE_RATE": "2", "OTEL_SDK_DISABLED": "true",
		auth.SecretsDirEnv: t.TempDir()}
	err := Run(context.Background(), Options{Services: Names(), ProcessName: "shop", Getenv: func(k string) string { return vars[k] }, Stdout: io.Discard})
	if err == nil {
		t.Fatal("Run accepted bad settings")
	}
	for _, name := range []string{"OUTBOX_INTERVAL", "BCRYPT_COST", "PAYMENTS_FAILURE_RATE"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("the error does not name %s: %v", name, err)
		}
	}
	if err := Run(context.Background(), Options{Services: []string{"nope"}, Getenv: func(string) string { return "" }}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("an unknown service: %v", err)
	}
}

// A port already taken fails the start at once, naming the service.
func TestRun_PortTakenFailsTheStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	vars := map[string]string{"PAYMENTS_ADDR": ln.Addr().String(), AdminAddrEnv: "127.0.0.1:0", "OTEL_SDK_DISABLED": "true",
		auth.SecretsDirEnv: t.TempDir()}
	err = Run(context.Background(), Options{Services: []string{"payments"}, ProcessName: "payments",
		Getenv: func(k string) string { return vars[k] }, Stdout: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "payments: listen on") {
		t.Errorf("payments on a taken port: %v", err)
	}
}

// Callers reach a service where its variable says, else where it listens in this
// process (on loopback when it listens on every interface), else at its default.
func TestPeerAddresses(t *testing.T) {
	vars := map[string]string{"CART_URL": "http://cart.internal:80"}
	peers := peerAddresses(func(k string) string { return vars[k] },
		map[string]string{"catalog": "[::]:18082", "inventory": "127.0.0.1:18084"})
	want := map[string]string{
		"cart":      "http://cart.internal:80",
		"catalog":   "http://127.0.0.1:18082",
		"inventory": "127.0.0.1:18084",
		"payments":  "http://127.0.0.1:8086",
	}
	for name, addr := range want {
		if peers[name] != addr {
			t.Errorf("%s: %q, want %q", name, peers[name], addr)
		}
	}
	if got := slices.Sorted(maps.Keys(callees(orderService(t), peers))); !slices.Equal(got, []string{"cart", "catalog", "inventory", "payments"}) {
		t.Errorf("orders is given the addresses of %v", got)
	}
}

func orderService(t *testing.T) service.Definition {
	t.Helper()
	d, ok := Lookup("orders")
	if !ok {
		t.Fatal("no orders service")
	}
	return d
}
