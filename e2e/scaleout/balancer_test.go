package scaleout

import (
	"io"
	"net"
	"sync"
	"time"
)

// balancer stands for a Kubernetes Service in front of a service's replicas: a TCP
// proxy that spreads connections round-robin over the replicas that are up. A
// replica leaves it when it is killed and comes back once it is ready again, as an
// endpoint does; connections in flight to a killed replica break, as they would.
// HTTP keep-alive and gRPC keep their connections, so, as behind kube-proxy, it is
// connections that are spread, not requests.
type balancer struct {
	name string
	ln   net.Listener

	mu       sync.Mutex
	backends []string // by replica; "" while the replica is down
	next     int
	conns    map[net.Conn]struct{}
}

func newBalancer(name string, replicas int) (*balancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &balancer{name: name, ln: ln, backends: make([]string, replicas), conns: map[net.Conn]struct{}{}}
	go b.serve()
	return b, nil
}

func (b *balancer) Addr() string { return b.ln.Addr().String() }

// set makes replica i reachable at addr, or unreachable with "".
func (b *balancer) set(i int, addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends[i] = addr
}

// candidates are the replicas up, starting with the next in turn.
func (b *balancer) candidates() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for i := range b.backends {
		if addr := b.backends[(b.next+i)%len(b.backends)]; addr != "" {
			out = append(out, addr)
		}
	}
	b.next++
	return out
}

func (b *balancer) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.handle(c)
	}
}

func (b *balancer) track(c net.Conn, add bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conns == nil {
		return false // closed
	}
	if add {
		b.conns[c] = struct{}{}
	} else {
		delete(b.conns, c)
	}
	return true
}

func (b *balancer) handle(client net.Conn) {
	var upstream net.Conn
	for _, addr := range b.candidates() {
		// A replica that died the moment before it was taken out refuses the dial:
		// the next one gets the connection, as a retried connection would.
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			upstream = c
			break
		}
	}
	if upstream == nil {
		client.Close()
		return
	}
	if !b.track(client, true) || !b.track(upstream, true) {
		client.Close()
		upstream.Close()
		return
	}
	defer func() {
		client.Close()
		upstream.Close()
		b.track(client, false)
		b.track(upstream, false)
	}()
	// Either side closing ends the connection for both: a replica killed mid-request
	// shows its callers a broken connection, a caller that left shows the replica one.
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(upstream, client); done <- struct{}{} }()
	go func() { _, _ = io.Copy(client, upstream); done <- struct{}{} }()
	<-done
}

// close stops accepting and cuts every connection.
func (b *balancer) close() {
	b.ln.Close()
	b.mu.Lock()
	conns := b.conns
	b.conns = nil
	b.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}
