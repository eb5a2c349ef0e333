package loadtest

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func slowServer(t *testing.T, delay time.Duration, inFlight *atomic.Int64, peak *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(delay)
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// 50 arrivals/s against a target taking 200ms with at most 2 in flight: the generator can
// start about 10/s, so most arrivals must be reported missed, never silently dropped.
func TestOpenModel_SlowTargetSmallCap_CountsMissedStarts(t *testing.T) {
	var inFlight, peak atomic.Int64
	srv := slowServer(t, 200*time.Millisecond, &inFlight, &peak)

	res := runMain(t, context.Background(), prometheusTelemetry(t),
		"-url", srv.URL+"/", "-rate", "50", "-duration", "2s", "-think", "0",
		"-max-concurrency", "2", "-threshold", "missed<1%")

	if code := ExitCode(res.err); code != ExitThresholds {
		t.Fatalf("exit code %d (%v), want %d: missed<1%% must fail", code, res.err, ExitThresholds)
	}
	s := res.sum
	if s.Scheduled != 100 {
		t.Errorf("scheduled = %d arrivals, want 100 (50/s for 2s)", s.Scheduled)
	}
	started := s.Scheduled - s.MissedStarts
	if s.MissedStarts < 60 || started < 10 {
		t.Errorf("missed %d of %d (started %d), want most missed and some started", s.MissedStarts, s.Scheduled, started)
	}
	// Every started arrival ran exactly one request: none vanished.
	if s.Requests+s.InterruptedRequests != started {
		t.Errorf("requests %d + cut off %d != started %d", s.Requests, s.InterruptedRequests, started)
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("target saw %d requests in flight, the cap is 2", p)
	}
	if got := metricSum(t, res.registry, "loadgen_missed_starts_total"); got != float64(s.MissedStarts) {
		t.Errorf("loadgen_missed_starts_total = %g, report says %d", got, s.MissedStarts)
	}
	if !strings.Contains(res.stdout, "missed starts") || s.Thresholds[0].OK {
		t.Errorf("summary does not report the missed starts:\n%s", res.stdout)
	}
	var missedInTimeline int64
	for _, p := range s.Timeline.Points {
		missedInTimeline += p.Missed
	}
	if missedInTimeline != s.MissedStarts {
		t.Errorf("timeline has %d missed starts, total %d", missedInTimeline, s.MissedStarts)
	}
}

// With a generous cap nothing is missed and the arrival rate is held.
func TestOpenModel_RequestArrivals_HoldTheRate(t *testing.T) {
	var inFlight, peak atomic.Int64
	srv := slowServer(t, 5*time.Millisecond, &inFlight, &peak)
	res := runMain(t, context.Background(), Telemetry{},
		"-url", srv.URL+"/", "-arrival", "requests", "-stages", "500ms:0->100,1s:100", "-think", "0")
	if res.err != nil {
		t.Fatalf("run: %v\n%s", res.err, res.stderr)
	}
	// 500ms ramping to 100/s is 25 arrivals, then 100.
	if res.sum.Scheduled != 125 || res.sum.MissedStarts != 0 || res.sum.Requests != 125 {
		t.Errorf("scheduled %d, missed %d, requests %d; want 125, 0, 125", res.sum.Scheduled, res.sum.MissedStarts, res.sum.Requests)
	}
	if math.Abs(res.elapsed.Seconds()-1.5) > 1 {
		t.Errorf("run took %s for a 1.5s profile", res.elapsed)
	}
}
