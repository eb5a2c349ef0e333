package loadtest

import (
	"context"
	"math"
	"time"
)

// runClosed is the closed model: virtual users that each run one session after another,
// their number following the profile. It shows what N concurrent shoppers experience; it
// cannot show what a target does to an arrival rate it fails to keep up with (use the
// open model for that).
func (r *runner) runClosed(ctx context.Context) {
	var stops []context.CancelFunc
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		off := time.Since(r.start)
		if off >= r.cfg.profile.duration() {
			return
		}
		want := int(math.Round(r.cfg.profile.at(off)))
		for len(stops) < want {
			vuCtx, stop := context.WithCancel(ctx)
			stops = append(stops, stop)
			r.sessions.Go(func() { r.virtualUser(vuCtx) })
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

// virtualUser starts sessions until its context ends; the session in progress then
// runs on (it is a shopper mid-purchase) until the run's drain cuts it off.
func (r *runner) virtualUser(ctx context.Context) {
	for ctx.Err() == nil {
		select {
		case <-r.quit:
			return
		default:
		}
		r.live.Add(1)
		r.runSession(time.Time{}, nil)
		r.live.Add(-1)
	}
}
