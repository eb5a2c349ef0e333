package shopper

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/otelshop/shop/loadtest/internal/gateway"
)

// account is a shopper's credentials.
type account struct {
	email, password, name string
	orders                int // placed in this run
}

// accounts makes the run's shopper accounts and lends the registered ones to sessions
// one at a time, so two sessions never share a cart and trip over each other's
// changes. Bounded: beyond max, accounts are forgotten.
type accounts struct {
	runID string
	// nonce keeps a repeated -run-id from colliding with accounts of an earlier run
	// against the same database; unrelated to -seed on purpose.
	nonce string
	seq   atomic.Uint64

	mu   sync.Mutex
	idle []*account
	max  int
}

func newAccounts(max int, runID string) *accounts {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return &accounts{runID: runID, nonce: hex.EncodeToString(b), max: max}
}

// create makes credentials no earlier run or other session can have taken.
func (a *accounts) create(rng *mrand.Rand) *account {
	n := a.seq.Add(1)
	return &account{
		email:    strings.ToLower(fmt.Sprintf("loadgen+%s-%s-%d@example.com", a.runID, a.nonce, n)),
		password: randomHex(rng, 12),
		name:     firstNames[rng.IntN(len(firstNames))] + " " + lastNames[rng.IntN(len(lastNames))],
	}
}

// take lends an idle account. Asked for one with orders, it prefers the most
// frequent buyer of a few drawn at random: the shoppers who look at their orders
// are mostly the ones who buy often, so order lists get long, as they do in a shop
// that has run for a while.
func (a *accounts) take(r *mrand.Rand, wantOrders bool) (*account, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.idle) == 0 {
		return nil, false
	}
	i := r.IntN(len(a.idle))
	if wantOrders {
		for range 3 {
			if k := r.IntN(len(a.idle)); a.idle[k].orders > a.idle[i].orders {
				i = k
			}
		}
		if a.idle[i].orders == 0 { // no draw has bought yet: the next one that has
			for j := range a.idle {
				if k := (i + j) % len(a.idle); a.idle[k].orders > 0 {
					i = k
					break
				}
			}
		}
	}
	acc := a.idle[i]
	a.idle[i] = a.idle[len(a.idle)-1]
	a.idle = a.idle[:len(a.idle)-1]
	return acc, true
}

// give returns a lent (or newly registered) account.
func (a *accounts) give(acc *account) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.idle) < a.max {
		a.idle = append(a.idle, acc)
	}
}

func randomHex(r *mrand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return hex.EncodeToString(b)
}

var (
	firstNames = []string{"Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger", "Radia"}
	lastNames  = []string{"Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen", "Dijkstra", "Perlman"}
)

// addresses are real-looking shipping addresses in the shop's likely markets.
var addresses = []gateway.Address{
	{Line1: "221B Baker Street", City: "London", PostalCode: "NW1 6XE", Country: "GB"},
	{Line1: "1600 Amphitheatre Parkway", City: "Mountain View", PostalCode: "94043", Country: "US"},
	{Line1: "Unter den Linden 77", City: "Berlin", PostalCode: "10117", Country: "DE"},
	{Line1: "8 Rue de Rivoli", City: "Paris", PostalCode: "75004", Country: "FR"},
	{Line1: "Keizersgracht 123", City: "Amsterdam", PostalCode: "1015 CJ", Country: "NL"},
	{Line1: "350 Bourke Street", City: "Melbourne", PostalCode: "3000", Country: "AU"},
	{Line1: "Via del Corso 12", City: "Roma", PostalCode: "00186", Country: "IT"},
}
