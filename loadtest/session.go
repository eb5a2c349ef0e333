package loadtest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// errStopped ends a session because the run is over; the session counts as interrupted,
// not failed.
var errStopped = errors.New("run is over")

// stepError ends a session at a request that did not succeed: a shopper who hits an
// error page leaves.
type stepError struct {
	ep      endpoint
	outcome string
	status  int
	err     error // the transport's error, when there was no response
}

func (e *stepError) Error() string {
	switch {
	case e.err != nil:
		return fmt.Sprintf("%s: %s: %v", e.ep, e.outcome, e.err)
	case e.status != 0:
		return fmt.Sprintf("%s: %s (status %d)", e.ep, e.outcome, e.status)
	default:
		return fmt.Sprintf("%s: %s", e.ep, e.outcome)
	}
}

func (e *stepError) Unwrap() error { return e.err }

// Session results, as reports and the loadgen_sessions metric name them.
const (
	sessionCompleted   = "completed"
	sessionFailed      = "failed"
	sessionInterrupted = "interrupted"
)

// session is one shopper: the state carried between requests (token, cart, orders) and
// the pacing that decides when each request is meant to start.
type session struct {
	r        *runner
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
	cart    map[string]int
	orders  []string

	zipf  *rand.Zipf
	zipfN int

	// setup, when set, makes requests outside the measured run (catalog discovery):
	// sent at once with this context and not recorded.
	setup context.Context

	// Kept when the session is recycled (see runner.acquireSession): the buffer the
	// responses to decode are read into, and the think-time timer.
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
		case due := <-s.tickets:
			return due, true
		case <-s.r.arrivalsDone: // no more tickets will come
			return time.Time{}, false
		case <-s.r.quit:
			return time.Time{}, false
		}
	}
	think := s.r.cfg.think.draw(s.rng)
	// The request is due when the thinking ends; oversleeping counts against latency.
	due := time.Now().Add(think)
	if think <= 0 {
		select {
		case <-s.r.quit:
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
	case <-s.r.quit:
		s.thinkTimer.Stop()
		return time.Time{}, false
	}
}

// do sends one request when it is due and records it. A nil error means the request
// succeeded and its decode step accepted the body.
func (s *session) do(c *call) error {
	if s.setup != nil {
		return s.doSetup(c)
	}
	due, ok := s.pace()
	if !ok {
		return errStopped
	}
	res := s.r.client.send(s.r.reqCtx, c, s.scenario, &s.body)
	if res.err != nil && s.r.reqCtx.Err() != nil {
		// Cut off by the end of the run or Ctrl-C: not the target's fault, so neither a
		// latency nor an error, but counted.
		s.r.rec.interrupt()
		return errStopped
	}
	outcome := classify(res, c.accept)
	if outcome == outcomeOK && c.decode != nil {
		if err := c.decode(res.status, res.body); err != nil {
			outcome = outcomeBadResponse
		}
	}
	s.r.observe(sample{
		endpoint: c.ep.String(),
		scenario: s.scenario,
		intended: due,
		sent:     res.sent,
		end:      res.end,
		status:   res.status,
		outcome:  outcome,
		span:     res.span,
		active:   s.r.live.Load(),
	}, c.ep)
	if outcome != outcomeOK {
		return &stepError{ep: c.ep, outcome: outcome, status: res.status, err: res.err}
	}
	return nil
}

func (s *session) doSetup(c *call) error {
	res := s.r.client.send(s.setup, c, s.scenario, &s.body)
	outcome := classify(res, c.accept)
	var decodeErr error
	if outcome == outcomeOK && c.decode != nil {
		if decodeErr = c.decode(res.status, res.body); decodeErr != nil {
			outcome = outcomeBadResponse
		}
	}
	if outcome != outcomeOK {
		return &stepError{ep: c.ep, outcome: outcome, status: res.status, err: cmp.Or(res.err, decodeErr)}
	}
	return nil
}

// pickProduct draws a product id by popularity: Zipf over the discovered catalog, so a
// few products get most of the traffic, as in a real shop (and as caches see it).
func (s *session) pickProduct() (string, bool) {
	ids := s.r.catalog.snapshot()
	if len(ids) == 0 {
		return "", false
	}
	if s.zipf == nil || s.zipfN != len(ids) {
		s.zipf = rand.NewZipf(s.rng, s.r.cfg.zipfS, 1, uint64(len(ids)-1))
		s.zipfN = len(ids)
	}
	return ids[s.zipf.Uint64()], true
}

func sessionResult(err error) string {
	switch {
	case err == nil:
		return sessionCompleted
	case errors.Is(err, errStopped):
		return sessionInterrupted
	default:
		return sessionFailed
	}
}
