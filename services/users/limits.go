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

// hashers runs bcrypt on a bounded number of goroutines at once and lets a
// bounded number wait: a flood of logins or registrations queues here instead of
// taking every core.
type hashers struct {
	slots      chan struct{}
	waiting    atomic.Int64
	maxWaiting int64
}

func newHashers(workers int) *hashers {
	return &hashers{slots: make(chan struct{}, workers), maxWaiting: int64(16 * workers)}
}

// saturated says whether a hash asked for now would be refused: checked before
// any other work of a login, so a flood costs as little as possible.
func (h *hashers) saturated() bool { return h.waiting.Load() >= h.maxWaiting }

func (h *hashers) do(ctx context.Context, fn func()) error {
	if h.waiting.Add(1) > h.maxWaiting {
		h.waiting.Add(-1)
		return errBusy
	}
	defer h.waiting.Add(-1)
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-h.slots }()
	fn()
	return nil
}
