package users

import (
	"context"
	"errors"
	"testing"
	"time"
)

// hashFor is a stand-in hash that takes d of the worker's time.
func hashFor(d time.Duration) func() { return func() { time.Sleep(d) } }

// Beyond its budget of hashing time, a hash is refused at once rather than queued
// for longer than a second: a flood from any number of clients takes at most the
// budget's share of the cores.
func TestHashers_RefuseBeyondTheBudget(t *testing.T) {
	// A budget of 1 ms of hashing a second, hashes of 5 ms: the burst holds four,
	// then the next would wait seconds.
	h := newHashers(4, 0.001, 1, 5*time.Millisecond)
	ctx := context.Background()
	ran := 0
	var err error
	for range 10 {
		if err = h.do(ctx, hashFor(5*time.Millisecond)); err != nil {
			break
		}
		ran++
	}
	if !errors.Is(err, errBusy) || ran == 0 || ran > 4 {
		t.Fatalf("ran %d hashes, then %v; want the burst's few, then errBusy", ran, err)
	}
	if !h.saturated() {
		t.Error("saturated() says a login may start a hash that would be refused")
	}
}

// Within the budget, a hash waits its turn instead of being refused: the budget
// spreads hashing out over time.
func TestHashers_WaitWithinTheBudget(t *testing.T) {
	// 100 ms of hashing a second, 20 ms hashes: the burst (four hashes' worth) runs
	// four at once; the fifth waits about 0.2 s for the budget to refill.
	h := newHashers(4, 0.1, 1, 20*time.Millisecond)
	ctx := context.Background()
	for range 4 {
		if err := h.do(ctx, hashFor(20*time.Millisecond)); err != nil {
			t.Fatalf("a hash within the burst: %v", err)
		}
	}
	start := time.Now()
	if err := h.do(ctx, hashFor(20*time.Millisecond)); err != nil {
		t.Fatalf("a hash within the budget was refused: %v", err)
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("the hash past the burst started after %v; want it to wait for the budget (about 0.2 s)", waited)
	}
}

// A caller that leaves while waiting for the budget gets its context's error.
func TestHashers_WaitEndsWithTheContext(t *testing.T) {
	h := newHashers(1, 0.01, 1, 4*time.Millisecond)
	for range 4 {
		_ = h.do(context.Background(), hashFor(4*time.Millisecond))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	ran := false
	err := h.do(ctx, func() { ran = true })
	if ran || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ran %v, err %v; want the context's deadline before the hash ran", ran, err)
	}
}
