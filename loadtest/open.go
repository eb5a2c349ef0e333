package loadtest

import (
	"context"
	"math/rand/v2"
	"time"
)

// runOpen is the open model: arrivals follow the profile whatever the target does. A
// slow target does not slow the arrivals down (that would hide the slowness); when the
// concurrency cap is reached an arrival is turned away and counted as a missed start.
func (r *runner) runOpen(ctx context.Context) {
	var rng *rand.Rand
	if r.cfg.poisson {
		rng = rand.New(rand.NewPCG(r.cfg.seed, 2))
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var cum float64
	for k := 0; ; k++ {
		// The k-th arrival is due when the cumulative expected arrivals reach k+½ (evenly
		// spaced) or the next point of a Poisson process with the profile's rate.
		if rng != nil {
			cum += rng.ExpFloat64()
		} else {
			cum = float64(k) + 0.5
		}
		off, ok := r.cfg.profile.offsetOf(cum)
		if !ok {
			return
		}
		due := r.start.Add(off)
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
		r.arrive(due)
	}
}

// arrive starts what arrived at due: a new session, or one request of a waiting session.
func (r *runner) arrive(due time.Time) {
	if r.tickets != nil {
		select {
		case r.tickets <- due: // an idle session sends its next request
			r.rec.arrival(due, false)
			return
		default:
		}
	}
	if r.live.Add(1) > int64(r.cfg.maxConcurrency) {
		r.live.Add(-1)
		r.missedStart(due)
		return
	}
	r.rec.arrival(due, false)
	select {
	case r.idleWorkers <- due: // a worker whose session ended takes it
	default:
		r.sessions.Go(func() { r.sessionWorker(due) })
	}
}

// sessionWorker runs the session that arrived at due, then waits for the next arrival
// until the profile is over. Reusing goroutines spares each arrival a new goroutine and
// the growth of its stack through net/http's deep calls (5% of the CPU in the open
// model's profile). Workers never outnumber the sessions in flight at the peak.
func (r *runner) sessionWorker(due time.Time) {
	for {
		r.runSession(due, r.tickets)
		r.live.Add(-1)
		select {
		case due = <-r.idleWorkers:
		case <-r.arrivalsDone:
			return
		}
	}
}
