package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

func cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkClosedLoop_TrivialEndpoint reports the generator's requests per CPU-second
// against an in-process trivial endpoint (the CPU includes the server's share; see
// compare.sh for the generator alone, side by side with wrk, hey and fortio; the
// allocations per request are internal/shopper's BenchmarkRequest_*).
// Each iteration is a one-second run of 32 virtual users with no think time.
func BenchmarkClosedLoop_TrivialEndpoint(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	var requests int64
	cpu0 := cpuTime(b)
	for b.Loop() {
		res := runMain(b, context.Background(), Telemetry{},
			"-url", srv.URL+"/", "-mode", "closed", "-vus", "32", "-think", "0", "-duration", "1s")
		if res.err != nil {
			b.Fatal(res.err)
		}
		requests += res.sum.Requests
	}
	cpu := cpuTime(b) - cpu0
	b.ReportMetric(float64(requests)/cpu.Seconds(), "req/cpu-s")
	b.ReportMetric(float64(requests)/float64(b.N), "req/run")
}
