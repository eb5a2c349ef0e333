// Package shopper owns the simulated shoppers: a session's pacing (when each request is
// due) and state (token, cart, orders), the scenarios and their weighted mix, the
// product catalog the sessions draw from by popularity, and the pool of accounts they
// sign in with. Each request is sent through the gateway client and recorded in the
// run's statistics and metrics.
package shopper

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otelshop/shop/loadtest/internal/gateway"
	"github.com/otelshop/shop/loadtest/internal/metrics"
	"github.com/otelshop/shop/loadtest/internal/stats"
)

// Config is what the sessions of one run share.
type Config struct {
	Client  *gateway.Client
	Stats   *stats.Recorder
	Metrics *metrics.Instruments
	Catalog *Catalog
	Mix     Mix
	Think   Think
	ZipfS   float64 // skew of product popularity
	Seed    uint64  // the n-th session's random stream is the n-th of the seed's
	RunID   string  // names the accounts the run registers
	// Stop closes when sessions must not start another request: at the end of the
	// grace period, on Ctrl-C, or when -abort-on-fail stops the run.
	Stop <-chan struct{}
	// Requests is the parent of every request: cancelling it cuts off those in flight.
	Requests context.Context
}

// env is what a session needs from its run, copied into each session.
type env struct {
	client   *gateway.Client
	stats    *stats.Recorder
	metrics  *metrics.Instruments
	catalog  *Catalog
	accounts *accounts
	think    Think
	zipfS    float64
	stop     <-chan struct{}
	requests context.Context
}

// Shoppers runs the sessions of one run, each of a scenario drawn from the mix.
type Shoppers struct {
	env  env
	mix  Mix
	seed uint64
	seq  atomic.Uint64
	// idle recycles finished sessions: in -url mode a session is one request, and a new
	// session, random source and body buffer per request cost 49 allocations per
	// request instead of 46 (BenchmarkRequest_URLMode/telemetry=off).
	idle sync.Pool
}

// New prepares the sessions of a run.
func New(c Config) *Shoppers {
	return &Shoppers{
		env: env{
			client:   c.Client,
			stats:    c.Stats,
			metrics:  c.Metrics,
			catalog:  c.Catalog,
			accounts: newAccounts(maxIdleAccounts, c.RunID),
			think:    c.Think,
			zipfS:    c.ZipfS,
			stop:     c.Stop,
			requests: c.Requests,
		},
		mix:  c.Mix,
		seed: c.Seed,
	}
}

// maxIdleAccounts bounds the accounts kept for later sessions to sign in with.
const maxIdleAccounts = 1000

// Run runs one session to its end (a schedule.Session): first is when its first
// request is due (zero: at once); tickets, when not nil, deliver the due time of each
// later request.
func (p *Shoppers) Run(first time.Time, tickets <-chan time.Time) {
	s := p.acquire(p.seq.Add(1))
	defer p.release(s)
	sc := p.mix.pick(s.rng)
	s.scenario, s.first, s.tickets = sc.name, first, tickets
	s.stats.SessionStarted(sc.name)
	s.metrics.SessionStarted(sc.name)
	result := sessionResult(sc.run(s))
	s.stats.SessionEnded(sc.name, result)
	s.metrics.SessionEnded(sc.name, result)
}

// acquire returns a fresh session whose random stream is the n-th of the run's seed, so
// a seeded run repeats.
func (p *Shoppers) acquire(n uint64) *session {
	s, _ := p.idle.Get().(*session)
	if s == nil {
		s = &session{env: p.env, src: rand.NewPCG(0, 0)}
		s.rng = rand.New(s.src)
	}
	s.src.Seed(p.seed, n+1000)
	return s
}

// maxKeptBody bounds the buffer a recycled session keeps: a rare large response should
// not pin its size in memory for the rest of the run.
const maxKeptBody = 64 << 10

// release clears a finished session's state and keeps it for the next one.
func (p *Shoppers) release(s *session) {
	recycled := session{env: s.env, src: s.src, rng: s.rng, thinkTimer: s.thinkTimer}
	if s.body.Cap() <= maxKeptBody {
		s.body.Reset()
		recycled.body = s.body
	}
	*s = recycled
	p.idle.Put(s)
}
