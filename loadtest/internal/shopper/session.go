package shopper

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/otelshop/shop/loadtest/internal/gateway"
	"github.com/otelshop/shop/loadtest/internal/stats"
)

// errStopped ends a session because the run is over; the session counts as interrupted,
// not failed.
var errStopped = errors.New("run is over")

// session is one shopper: the state carried between requests (token, cart, orders) and
// the pacing that decides when each request is meant to start.
type session struct {
	env
	scenario string
	rng      *rand.Rand
	src      *rand.PCG // rng's source, reseeded when the session is recycled

	// Pacing. first is the intended start of the first request (the arrival time in
	// the open model). With tickets (open model, request arrivals) every request waits
	// for an arrival; otherwise the session thinks between requests.
	first   time.Time
	tickets <-chan time.Time
	paced   bool

	// Shopper state.
	account *account
	token   string
	cart    gateway.Cart
	orders  []string

	zipf  *rand.Zipf
	zipfN int

	// Kept when the session is recycled: the buffer the responses to decode are read
	// into, and the think-time timer.
	body       bytes.Buffer
	thinkTimer *time.Timer
}

// pace waits until the next request is due and returns the time it was meant to start;
// false when the run ended first.
func (s *session) pace() (time.Time, bool) {
	if !s.paced {
		s.paced = true
		if !s.first.IsZero() {
			return s.first, true
		}
	}
	if s.tickets != nil {
		select {
		case due, ok := <-s.tickets: // closed when no more will come
			return due, ok
		case <-s.stop:
			return time.Time{}, false
		}
	}
	think := s.think.draw(s.rng)
	// The request is due when the thinking ends; oversleeping counts against latency.
	due := time.Now().Add(think)
	if think <= 0 {
		select {
		case <-s.stop:
			return time.Time{}, false
		default:
			return due, true
		}
	}
	if s.thinkTimer == nil {
		s.thinkTimer = time.NewTimer(think)
	} else {
		s.thinkTimer.Reset(think) // since Go 1.23 no stale tick can be left in the channel
	}
	select {
	case <-s.thinkTimer.C:
		return due, true
	case <-s.stop:
		s.thinkTimer.Stop()
		return time.Time{}, false
	}
}

// do sends one request when it is due and records it. A nil error means the request
// succeeded and its contract check accepted the body.
func (s *session) do(c *gateway.Call) error {
	due, ok := s.pace()
	if !ok {
		return errStopped
	}
	res := s.client.Send(s.requests, c, s.scenario, &s.body)
	if res.Err != nil && s.requests.Err() != nil {
		// Cut off by the end of the run or Ctrl-C: not the target's fault, so neither a
		// latency nor an error, but counted.
		s.stats.Interrupted()
		return errStopped
	}
	outcome, err := c.Check(res)
	s.stats.Record(stats.Sample{
		Endpoint: c.Endpoint.String(),
		Scenario: s.scenario,
		Intended: due,
		Sent:     res.Sent,
		End:      res.End,
		Status:   res.Status,
		Outcome:  outcome,
		Span:     res.Span,
	})
	s.metrics.Request(c.Endpoint, res.Status, outcome, res.End.Sub(due).Seconds(), res.Span)
	return err
}

// pickProduct draws a product id by popularity: Zipf over the catalog, so a few
// products get most of the traffic, as in a real shop (and as caches see it).
func (s *session) pickProduct() (string, bool) {
	ids := s.catalog.Products()
	if len(ids) == 0 {
		return "", false
	}
	if s.zipf == nil || s.zipfN != len(ids) {
		s.zipf = rand.NewZipf(s.rng, s.zipfS, 1, uint64(len(ids)-1))
		s.zipfN = len(ids)
	}
	return ids[s.zipf.Uint64()], true
}

func sessionResult(err error) string {
	switch {
	case err == nil:
		return stats.SessionCompleted
	case errors.Is(err, errStopped):
		return stats.SessionInterrupted
	default:
		return stats.SessionFailed
	}
}
