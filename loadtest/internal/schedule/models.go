package schedule

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Session runs one shopper session to its end. first is when its first request is due
// (zero: at once). tickets, when not nil, deliver the due time of each later request
// (request arrivals) and are closed when no more will come.
type Session func(first time.Time, tickets <-chan time.Time)

// A Model starts sessions as the profile says until ctx ends or the profile is over,
// then returns; the sessions in progress go on, and Wait waits for them to end.
type Model interface {
	Run(ctx context.Context, start time.Time, session Session)
	Wait()
}

// Open is the open model: arrivals follow the profile whatever the target does. A slow
// target does not slow the arrivals down (that would hide the slowness); when
// MaxConcurrency sessions are in flight an arrival is turned away and counted as a
// missed start, never queued.
type Open struct {
	Profile Profile
	// Poisson draws the arrivals from a Poisson process seeded with Seed instead of
	// spacing them evenly.
	Poisson bool
	Seed    uint64
	// MaxConcurrency caps the sessions in flight.
	MaxConcurrency int
	// RequestArrivals hands an arrival to a session waiting for its next request, when
	// one is waiting, instead of starting a new session (-arrival requests).
	RequestArrivals bool
	// OnArrival is told of every arrival; missed when the cap turned it away.
	OnArrival func(due time.Time, missed bool)

	inFlight atomic.Int64
	workers  sync.WaitGroup
	// idle hands new sessions' arrival times to workers whose last session ended; over
	// closes when Run returns, so no worker waits for another.
	idle chan time.Time
	over chan struct{}
}

// Run schedules the arrivals from start; see Model.
func (o *Open) Run(ctx context.Context, start time.Time, session Session) {
	var poisson *rand.Rand
	if o.Poisson {
		poisson = rand.New(rand.NewPCG(o.Seed, 2))
	}
	var tickets chan time.Time
	if o.RequestArrivals {
		tickets = make(chan time.Time)
		defer close(tickets) // sessions waiting for a ticket end
	}
	o.idle, o.over = make(chan time.Time), make(chan struct{})
	defer close(o.over)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for off := range o.Profile.Arrivals(poisson) {
		due := start.Add(off)
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		// Behind schedule (the generator itself was starved): no sleep, catch up. Each
		// late arrival still carries its due time, so the lateness shows in latency.
		o.arrive(due, session, tickets)
	}
}

// arrive starts what arrived at due: one request of a waiting session, or a new session.
func (o *Open) arrive(due time.Time, session Session, tickets chan time.Time) {
	if tickets != nil {
		select {
		case tickets <- due: // a waiting session sends its next request
			o.OnArrival(due, false)
			return
		default:
		}
	}
	if o.inFlight.Add(1) > int64(o.MaxConcurrency) {
		o.inFlight.Add(-1)
		o.OnArrival(due, true)
		return
	}
	o.OnArrival(due, false)
	select {
	case o.idle <- due: // a worker whose session ended takes it
	default:
		o.workers.Go(func() { o.work(due, session, tickets) })
	}
}

// work runs the session that arrived at due, then waits for the next arrival until the
// profile is over. Reusing goroutines spares each arrival a new goroutine and the growth
// of its stack through net/http's deep calls: 33 300 instead of 29 000 requests per
// CPU-second for `-url … -rate 25000 -max-concurrency 64 -duration 5s` with the client
// pinned to one core as compare.sh pins it. Workers never outnumber the sessions in
// flight at the peak.
func (o *Open) work(due time.Time, session Session, tickets <-chan time.Time) {
	for {
		session(due, tickets)
		o.inFlight.Add(-1)
		select {
		case due = <-o.idle:
		case <-o.over:
			return
		}
	}
}

// Wait waits for the sessions Run started.
func (o *Open) Wait() { o.workers.Wait() }

// Closed is the closed model: virtual users that each run one session after another,
// their number following the profile. It shows what N concurrent shoppers experience; it
// cannot show what a target does to an arrival rate it fails to keep up with (use the
// open model for that).
type Closed struct {
	Profile Profile

	users sync.WaitGroup
}

// Run follows the profile's number of users from start; see Model.
func (c *Closed) Run(ctx context.Context, start time.Time, session Session) {
	var stops []context.CancelFunc
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		off := time.Since(start)
		if off >= c.Profile.Duration() {
			return
		}
		want := int(math.Round(c.Profile.At(off)))
		for len(stops) < want {
			userCtx, stop := context.WithCancel(ctx)
			stops = append(stops, stop)
			c.users.Go(func() { virtualUser(userCtx, session) })
		}
		// Scale down from the newest user; it finishes its current session and stops.
		for len(stops) > want {
			stops[len(stops)-1]()
			stops = stops[:len(stops)-1]
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// virtualUser starts sessions until ctx ends; the session in progress then runs on (it
// is a shopper mid-purchase) until the run's drain cuts it off.
func virtualUser(ctx context.Context, session Session) {
	for ctx.Err() == nil {
		session(time.Time{}, nil)
	}
}

// Wait waits for the virtual users Run started.
func (c *Closed) Wait() { c.users.Wait() }
