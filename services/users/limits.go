package users

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"
)

// Guessing a password is bounded per account: after a few failures in a row the
// account is locked for a while that doubles with each further failure. The
// counts live in users' database, so every replica applies the same bound.
const (
	freeFailures = 5                // wrong passwords allowed before the lock
	failureSpan  = 15 * time.Minute // failures older than this are forgotten
	firstLock    = 30 * time.Second
	longestLock  = 15 * time.Minute
)

type throttle struct{ db *pgxpool.Pool }

// account keys the counts by a hash of the address: an unknown address is
// counted too, and none is stored in clear.
func account(email string) string {
	h := sha256.Sum256([]byte(strings.ToLower(email)))
	return hex.EncodeToString(h[:])
}

// lockedFor says how long the account is still locked (0 when it is not).
func (t throttle) lockedFor(ctx context.Context, email string) (time.Duration, error) {
	var wait float64
	err := t.db.QueryRow(ctx, `SELECT coalesce(extract(epoch FROM max(locked_until) - now()), 0) FROM login_failures
		WHERE account = $1 AND locked_until > now()`, account(email)).Scan(&wait)
	if err != nil {
		return 0, fmt.Errorf("read login failures: %w", err)
	}
	return time.Duration(wait * float64(time.Second)), nil
}

// failed counts a wrong password and locks the account once it has too many.
func (t throttle) failed(ctx context.Context, email string) error {
	_, err := t.db.Exec(ctx, `INSERT INTO login_failures AS f (account, failures, first_at) VALUES ($1, 1, now())
		ON CONFLICT (account) DO UPDATE SET
			failures = CASE WHEN f.first_at < now() - $2::interval THEN 1 ELSE f.failures + 1 END,
			first_at = CASE WHEN f.first_at < now() - $2::interval THEN now() ELSE f.first_at END,
			locked_until = CASE WHEN f.first_at >= now() - $2::interval AND f.failures + 1 > $3
				THEN now() + least($4::interval * power(2, f.failures + 1 - $3 - 1), $5::interval) END`,
		account(email), failureSpan.String(), freeFailures, firstLock.String(), longestLock.String())
	if err != nil {
		return fmt.Errorf("count login failure: %w", err)
	}
	return nil
}

// succeeded forgets the account's failures.
func (t throttle) succeeded(ctx context.Context, email string) error {
	if _, err := t.db.Exec(ctx, `DELETE FROM login_failures WHERE account = $1`, account(email)); err != nil {
		return fmt.Errorf("reset login failures: %w", err)
	}
	return nil
}

// errBusy: so many hashes wait already that this one would wait too long.
var errBusy = errors.New("too many password checks waiting")

// hashers runs bcrypt on a bounded number of goroutines at once, within a budget
// of CPU time, and lets a bounded number wait: a flood of logins or registrations
// queues here instead of taking the cores from every other route. The pool alone
// bounds the cores bcrypt holds at once, not the share of time: one worker busy
// without a pause is half of two cores. The budget caps that share, whatever
// number of clients the flood comes from (on two cores, 17 hashes a second fell to
// 10), which keeps steady traffic on other routes within 2× its quiet p99; at
// saturation the share spent is capacity lost (README, login flood).
type hashers struct {
	slots      chan struct{}
	waiting    atomic.Int64
	maxWaiting int64

	budget   *rate.Limiter // tokens are microseconds of hashing
	estimate atomic.Int64  // what one hash takes, in microseconds: a moving average
	maxWait  time.Duration // longest wait for the budget before a hash is refused
}

// newHashers returns hashers of workers goroutines whose hashing may take share of
// cores (say 0.3 of 2) on average; one hash is first expected to take perHash.
func newHashers(workers int, share float64, cores int, perHash time.Duration) *hashers {
	perSecond := share * float64(cores) * 1e6
	perHashUS := max(int64(perHash/time.Microsecond), 1)
	// The burst lets a few hashes run at once after a quiet while, and must hold one
	// hash however slow the cost makes it.
	burst := int(max(perSecond/4, float64(4*perHashUS)))
	h := &hashers{slots: make(chan struct{}, workers), maxWaiting: int64(16 * workers),
		budget: rate.NewLimiter(rate.Limit(perSecond), burst), maxWait: time.Second}
	h.estimate.Store(perHashUS)
	return h
}

// saturated says whether a hash asked for now would be refused: checked before
// any other work of a login, so a flood costs as little as possible.
func (h *hashers) saturated() bool {
	short := float64(h.estimate.Load()) - h.budget.TokensAt(time.Now()) // what one more hash lacks
	return h.waiting.Load() >= h.maxWaiting || short > float64(h.budget.Limit())*h.maxWait.Seconds()
}

func (h *hashers) do(ctx context.Context, fn func()) error {
	if h.waiting.Add(1) > h.maxWaiting {
		h.waiting.Add(-1)
		return errBusy
	}
	defer h.waiting.Add(-1)
	want := h.estimate.Load()
	turn := h.budget.ReserveN(time.Now(), int(want))
	if !turn.OK() || turn.Delay() > h.maxWait {
		turn.Cancel()
		return errBusy
	}
	if wait := turn.Delay(); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			turn.Cancel()
			return ctx.Err()
		}
	}
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-h.slots }()
	start := time.Now()
	fn()
	took := max(int64(time.Since(start)/time.Microsecond), 1)
	if took > want {
		h.budget.ReserveN(time.Now(), int(min(took-want, int64(h.budget.Burst())))) // the rest of the bill
	}
	h.estimate.Store((7*want + took) / 8)
	return nil
}
