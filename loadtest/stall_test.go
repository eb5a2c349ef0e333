package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// stallingServer freezes for stall at the start of every period, like a stop-the-world
// pause: a request arriving during the freeze waits until it ends.
func stallingServer(t *testing.T, period, stall time.Duration) *httptest.Server {
	t.Helper()
	origin := time.Now()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if phase := time.Since(origin) % period; phase < stall {
			time.Sleep(stall - phase)
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// The target stalls one second in every 2.5: 40% of the time. Requests that were due
// during a stall waited up to a second, so the true p99 is close to a second. A closed
// loop measuring from its own send sees each stall once and reports a p99 of a few
// milliseconds; the generator must not.
func TestOpenModel_StallingTarget_P99ReflectsStall(t *testing.T) {
	const period, stall, runFor = 2500 * time.Millisecond, time.Second, 5 * time.Second
	srv := stallingServer(t, period, stall)

	// The naive measurement runs alongside, against the same stalls: one connection,
	// back to back, each request timed from its own send.
	naive := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
	var wg sync.WaitGroup
	wg.Go(func() {
		client := srv.Client()
		for deadline := time.Now().Add(runFor - 200*time.Millisecond); time.Now().Before(deadline); {
			start := time.Now()
			resp, err := client.Get(srv.URL + "/")
			if err != nil {
				t.Error(err)
				return
			}
			_ = resp.Body.Close()
			_ = naive.RecordValue(max(time.Since(start).Microseconds(), 1))
		}
	})

	res := runMain(t, context.Background(), Telemetry{},
		"-url", srv.URL+"/", "-rate", "100", "-duration", runFor.String(), "-think", "0",
		"-max-concurrency", "300", "-grace", "2s")
	wg.Wait()
	if res.err != nil {
		t.Fatalf("run: %v\n%s", res.err, res.stderr)
	}
	if res.sum.Errors != 0 || res.sum.MissedStarts != 0 {
		t.Fatalf("want a clean run, got %d errors, %d missed", res.sum.Errors, res.sum.MissedStarts)
	}
	p99 := time.Duration(res.sum.Latency.P99 * float64(time.Millisecond))
	if p99 < 800*time.Millisecond {
		t.Errorf("reported p99 = %s, want ≥ 800ms: the one-second stalls are hidden", p99)
	}
	if p90 := time.Duration(res.sum.Latency.P90 * float64(time.Millisecond)); p90 < 500*time.Millisecond {
		t.Errorf("reported p90 = %s, want ≥ 500ms with 40%% of requests due during a stall", p90)
	}
	naiveP99 := time.Duration(naive.ValueAtQuantile(99)) * time.Microsecond
	if naiveP99 > 100*time.Millisecond {
		t.Fatalf("naive p99 = %s: the test target does not demonstrate coordinated omission", naiveP99)
	}
	t.Logf("p99 from intended start %s, naive closed-loop p99 %s over %d requests", p99, naiveP99, naive.TotalCount())
}
