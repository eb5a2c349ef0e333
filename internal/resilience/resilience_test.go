package resilience

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/otelshop/shop/telemetry"
)

var errFlaky = errors.New("flaky")

func retryable(err error) bool { return errors.Is(err, errFlaky) }

func TestRetry_AttemptsAndStops(t *testing.T) {
	p := Retry{Attempts: 4, Base: time.Millisecond, Max: 2 * time.Millisecond}
	tests := []struct {
		name      string
		fails     int   // how many calls fail before one succeeds
		err       error // what they fail with
		wantCalls int
		wantErr   bool
	}{
		{"first try", 0, nil, 1, false},
		{"third try", 2, errFlaky, 3, false},
		{"never", 99, errFlaky, 4, true},
		{"not retryable", 99, errors.New("bad request"), 1, true},
	}
	for _, tt := range tests {
		calls := 0
		err := p.Do(context.Background(), retryable, func(context.Context) error {
			calls++
			if calls <= tt.fails {
				return tt.err
			}
			return nil
		})
		if calls != tt.wantCalls || (err != nil) != tt.wantErr {
			t.Errorf("%s: %d calls, error %v; want %d calls, error %v", tt.name, calls, err, tt.wantCalls, tt.wantErr)
		}
	}
}

// A cancelled context ends the waiting between attempts at once.
func TestRetry_ContextEndsTheWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := Retry{Attempts: 3, Base: time.Hour, Max: time.Hour}
	calls := 0
	called := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- p.Do(ctx, retryable, func(context.Context) error {
			calls++
			close(called)
			return errFlaky
		})
	}()
	<-called
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, errFlaky) || calls != 1 {
			t.Errorf("err %v after %d calls; want the call's error after 1", err, calls)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the retry kept waiting after its context ended")
	}
}

func newTestGuard(t *testing.T) *Guard {
	t.Helper()
	tel, err := telemetry.Start(context.Background(), telemetry.Config{ServiceName: "test", Disabled: true, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	g := NewGuard("dep", tel, retryable, 0)
	g.retry = Retry{Attempts: 1}
	return g
}

// Five failures in a row open the breaker; then calls are refused without running,
// and the refusal is not retried. Answers that are not the dependency failing
// (isFailure false) do not count.
func TestGuard_BreakerOpensOnFailuresOnly(t *testing.T) {
	g := newTestGuard(t)
	ctx := context.Background()
	notFailure := errors.New("out of stock")
	for range 10 {
		_ = g.Do(ctx, retryable, func(context.Context) error { return notFailure })
	}
	if err := g.Do(ctx, retryable, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("answers that are not failures opened the breaker: %v", err)
	}
	for range 5 {
		_ = g.Do(ctx, retryable, func(context.Context) error { return errFlaky })
	}
	g.retry = Retry{Attempts: 3, Base: time.Millisecond, Max: time.Millisecond}
	ran := 0
	err := g.Do(ctx, retryable, func(context.Context) error { ran++; return nil })
	if !errors.Is(err, ErrOpen) || ran != 0 {
		t.Errorf("after 5 failures: %v, ran %d times; want ErrOpen without running", err, ran)
	}
}

// A retry the breaker refuses after an attempt went out answers that attempt's
// error, not ErrOpen: the attempt may have done its work (a charge that landed
// after its caller gave up), and ErrOpen tells callers nothing was sent.
func TestGuard_RefusedRetryAfterASentAttemptIsNotErrOpen(t *testing.T) {
	g := newTestGuard(t)
	ctx := context.Background()
	for range 4 {
		_ = g.Do(ctx, retryable, func(context.Context) error { return errFlaky })
	}
	g.retry = Retry{Attempts: 3, Base: time.Millisecond, Max: time.Millisecond}
	ran := 0
	err := g.Do(ctx, retryable, func(context.Context) error { ran++; return errFlaky })
	if ran != 1 {
		t.Fatalf("the fifth failure should open the breaker and refuse the retries; ran %d times", ran)
	}
	if errors.Is(err, ErrOpen) || !errors.Is(err, errFlaky) {
		t.Errorf("err %v; want the sent attempt's error, and not ErrOpen", err)
	}
}

// Each attempt gets its own deadline.
func TestGuard_DeadlinePerAttempt(t *testing.T) {
	g := newTestGuard(t)
	g.timeout = 20 * time.Millisecond
	err := g.Do(context.Background(), retryable, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("an attempt that waits past its deadline: %v, want context.DeadlineExceeded", err)
	}
}
