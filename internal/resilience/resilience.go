// Package resilience holds the shop's policies for calling another service: retries
// with exponential backoff and full jitter for idempotent calls, and circuit breakers
// (sony/gobreaker) whose state changes are logged and counted.
package resilience

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/telemetry"
)

// Retry is a retry policy. Only idempotent calls may use it.
type Retry struct {
	Attempts int           // total tries, at least 1
	Base     time.Duration // first backoff ceiling
	Max      time.Duration // largest backoff ceiling
}

// DefaultRetry suits calls between services on one network.
var DefaultRetry = Retry{Attempts: 3, Base: 25 * time.Millisecond, Max: 400 * time.Millisecond}

// Do calls fn until it succeeds, returns an error retryable rejects, the attempts run
// out or ctx ends. Each wait is uniform in [0, min(Max, Base·2^n)) ("full jitter"), so
// clients retrying together spread out instead of stampeding.
func (p Retry) Do(ctx context.Context, retryable func(error) bool, fn func(context.Context) error) error {
	var err error
	for attempt := 0; attempt < max(p.Attempts, 1); attempt++ {
		if attempt > 0 {
			ceiling := min(p.Max, p.Base<<(attempt-1))
			wait := time.Duration(rand.Int64N(int64(ceiling) + 1))
			trace.SpanFromContext(ctx).AddEvent("retry", trace.WithAttributes(
				attribute.Int("retry.attempt", attempt), attribute.String("retry.error", err.Error())))
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(wait):
			}
		}
		if err = fn(ctx); err == nil || !retryable(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// ErrOpen is returned while a breaker refuses calls.
var ErrOpen = gobreaker.ErrOpenState

// Guard is how a client calls a dependency that can fail as a whole: each
// attempt behind a circuit breaker, idempotent calls retried with backoff, and a
// deadline per attempt. Every attempt is counted (shop.dependency.attempts), so
// retries that multiply a dependency's load show as a ratio.
type Guard struct {
	retry    Retry
	breaker  *gobreaker.CircuitBreaker[struct{}]
	timeout  time.Duration // per attempt; 0 leaves the caller's deadline alone
	attempts metric.Int64Counter
	first    metric.MeasurementOption
	again    metric.MeasurementOption
	storm    *flags.Fault
}

// NewGuard returns a guard whose breaker is named after the dependency (it
// appears in logs and in shop.circuit_breaker.transitions). isFailure says
// which errors count against the dependency.
func NewGuard(dependency string, tel *telemetry.Telemetry, isFailure func(error) bool, attemptTimeout time.Duration) *Guard {
	attempts, _ := tel.Meter("github.com/otelshop/shop/internal/resilience").Int64Counter("shop.dependency.attempts",
		metric.WithUnit("{attempt}"),
		metric.WithDescription("Calls sent to a dependency, first attempts and retries; retries over first attempts is how much retrying multiplies its load."))
	attrs := func(retry bool) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(attribute.String("dependency", dependency), attribute.Bool("retry", retry)))
	}
	return &Guard{retry: DefaultRetry, breaker: NewBreaker[struct{}](dependency, tel, isFailure),
		timeout: attemptTimeout, attempts: attempts, first: attrs(false), again: attrs(true)}
}

// RetryStorm makes the guard misbehave while fault is on: the fault's Amount
// attempts per call, Delay each, without backoff, inside one breaker call so the
// breaker never sees them — a retrying transport under the breaker, the classic
// way a slow dependency's load gets multiplied.
func (g *Guard) RetryStorm(fault *flags.Fault) { g.storm = fault }

// Do calls fn through the breaker, retrying while retryable says so; it never
// retries a refusal of the open breaker (nothing was sent, and the breaker is
// open because retrying does not help). It answers ErrOpen only when nothing was
// sent at all: a retry refused after an attempt went out answers that attempt's
// error, for a caller told "nothing was sent" would not look for what the attempt
// did (a charge landing after its caller gave up).
func (g *Guard) Do(ctx context.Context, retryable func(error) bool, fn func(context.Context) error) error {
	sent := 0
	var lastSent error
	attempt := func(ctx context.Context, timeout time.Duration) error {
		if sent++; sent == 1 {
			g.attempts.Add(ctx, 1, g.first)
		} else {
			g.attempts.Add(ctx, 1, g.again)
		}
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		lastSent = fn(ctx)
		return lastSent
	}
	call := func(ctx context.Context) error { return attempt(ctx, g.timeout) }
	if v, on := g.storm.On(ctx); on {
		inner := Retry{Attempts: v.Amount}
		call = func(ctx context.Context) error {
			return inner.Do(ctx, retryable, func(ctx context.Context) error { return attempt(ctx, v.Delay.D()) })
		}
	}
	err := g.retry.Do(ctx, func(err error) bool { return !errors.Is(err, ErrOpen) && retryable(err) },
		func(ctx context.Context) error {
			_, err := g.breaker.Execute(func() (struct{}, error) { return struct{}{}, call(ctx) })
			return err
		})
	if sent > 0 && errors.Is(err, ErrOpen) {
		return fmt.Errorf("%w (the retry was then refused: the circuit breaker opened)", lastSent)
	}
	return err
}

// Never retries nothing: for calls that are not idempotent.
func Never(error) bool { return false }

// NewBreaker returns a circuit breaker that opens after 5 consecutive failures or when
// at least half of 20+ calls in a 10 s window failed, and probes again after 5 s.
// isFailure says which errors count against the dependency (a declined payment or an
// out-of-stock answer does not).
func NewBreaker[T any](name string, tel *telemetry.Telemetry, isFailure func(error) bool) *gobreaker.CircuitBreaker[T] {
	transitions, _ := tel.Meter("github.com/otelshop/shop/internal/resilience").Int64Counter(
		"shop.circuit_breaker.transitions",
		metric.WithDescription("Circuit breaker state changes, by breaker and new state."))
	return gobreaker.NewCircuitBreaker[T](gobreaker.Settings{
		Name:        name,
		MaxRequests: 3,
		Interval:    10 * time.Second,
		Timeout:     5 * time.Second,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= 5 || (c.Requests >= 20 && c.TotalFailures*2 >= c.Requests)
		},
		IsSuccessful: func(err error) bool { return err == nil || !isFailure(err) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			tel.Logger.Warn("circuit breaker changed state", "breaker", name, "from", from.String(), "to", to.String())
			transitions.Add(context.Background(), 1, metric.WithAttributes(
				attribute.String("breaker", name), attribute.String("state", to.String())))
		},
	})
}
