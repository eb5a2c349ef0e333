package gateway

import (
	"fmt"
	"testing"
	"time"
)

// A client gets its burst at once, then the sustained rate; other clients have
// their own buckets; idle buckets are forgotten.
func TestLimiter_BurstRateAndIsolation(t *testing.T) {
	l := newLimiter(10, 3) // 10 a second, bursts of 3
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if ok, _ := l.allow("a", now); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.allow("a", now)
	if ok || wait <= 0 || wait > 100*time.Millisecond {
		t.Errorf("4th request at once: allowed %v, wait %s; want refused with about 100ms to wait", ok, wait)
	}
	if ok, _ := l.allow("b", now); !ok {
		t.Error("another client was refused for a's burst")
	}
	if ok, _ := l.allow("a", now.Add(100*time.Millisecond)); !ok {
		t.Error("a token did not come back after 100ms at 10/s")
	}
	l.buckets["a"].lastSeen = now.Add(-2 * bucketIdle)
	l.forgetIdle(now)
	if _, ok := l.buckets["a"]; ok {
		t.Error("an idle bucket was kept")
	}
	if _, ok := l.buckets["b"]; !ok {
		t.Error("a busy bucket was dropped")
	}
}

// However many clients appear, the buckets stay bounded: beyond maxBuckets the
// newcomers share one.
func TestLimiter_BoundedWhateverClientsAppear(t *testing.T) {
	l := newLimiter(1000, 1000)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxBuckets + 500 {
		l.allow(fmt.Sprintf("client-%d", i), now)
	}
	if n := len(l.buckets); n > maxBuckets+1 {
		t.Errorf("%d buckets for %d clients, want at most %d", n, maxBuckets+500, maxBuckets+1)
	}
	if _, ok := l.buckets[overflow]; !ok {
		t.Error("no shared bucket for the clients beyond the bound")
	}
}
