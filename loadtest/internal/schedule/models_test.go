package schedule

import (
	"context"
	"sync"
	"testing"
	"time"
)

// With MaxConcurrency sessions in flight, every further arrival is turned away and
// reported as missed, never queued: here no session ends before the profile does.
func TestOpen_CapReached_ArrivalsAreMissedNotQueued(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var started, accepted, missed int
	var dues []time.Time
	open := &Open{
		Profile:        Constant(500*time.Millisecond, 40), // 20 arrivals
		MaxConcurrency: 3,
		OnArrival: func(due time.Time, wasMissed bool) {
			mu.Lock()
			defer mu.Unlock()
			if wasMissed {
				missed++
			} else {
				accepted++
			}
		},
	}
	start := time.Now()
	open.Run(context.Background(), start, func(first time.Time, tickets <-chan time.Time) {
		mu.Lock()
		started++
		dues = append(dues, first)
		mu.Unlock()
		<-release
	})
	close(release)
	open.Wait()

	if accepted != 3 || missed != 17 || started != 3 {
		t.Errorf("accepted %d, missed %d, started %d; want 3, 17, 3", accepted, missed, started)
	}
	// The k-th arrival is due at (k+½)/40 s: the sessions got their due times, not "now".
	for i, due := range dues {
		want := time.Duration((float64(i) + 0.5) / 40 * float64(time.Second))
		if got := due.Sub(start); got < want-time.Microsecond || got > want+time.Microsecond {
			t.Errorf("session %d due at +%s, want +%s", i, got, want)
		}
	}
}
