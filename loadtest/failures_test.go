package loadtest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otelshop/shop/loadtest/internal/gateway"
	"github.com/otelshop/shop/loadtest/internal/gatewaytest"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// A target that is down: discovery fails, the run still happens on time, and every
// request is a counted connection_refused error that breaks errors<1%.
func TestTargetDown_CountsConnectionRefused_EndsOnTime(t *testing.T) {
	res := runMain(t, context.Background(), Telemetry{},
		"-target", "http://"+closedPort(t), "-rate", "40", "-duration", "1s", "-think", "0",
		"-threshold", "errors<1%")
	if code := ExitCode(res.err); code != ExitThresholds {
		t.Fatalf("exit %d (%v), want %d", code, res.err, ExitThresholds)
	}
	if !strings.Contains(res.stderr, "product discovery failed") {
		t.Errorf("discovery failure not reported:\n%s", res.stderr)
	}
	s := res.sum
	if s.Requests < 30 || s.ErrorsByKind[gateway.OutcomeRefused] != s.Requests {
		t.Errorf("requests %d, errors by kind %v: want all connection_refused", s.Requests, s.ErrorsByKind)
	}
	// Sessions fail at their first request; they are not completed.
	var failed int64
	for _, sc := range s.Scenarios {
		failed += sc.Failed
	}
	if failed != s.Scheduled {
		t.Errorf("%d sessions failed of %d", failed, s.Scheduled)
	}
	if res.elapsed > 3*time.Second {
		t.Errorf("a 1s run against a dead target took %s", res.elapsed)
	}
}

// A target that accepts and never answers: each request times out, the run ends within
// duration + grace, and nothing hangs.
func TestHangingTarget_CountsTimeouts_NothingHangs(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })

	res := runMain(t, context.Background(), Telemetry{},
		"-url", srv.URL+"/slow", "-rate", "20", "-duration", "1s", "-think", "0",
		"-timeout", "300ms", "-grace", "500ms")
	s := res.sum
	if s.ErrorsByKind[gateway.OutcomeTimeout] < 15 || s.Errors != s.Requests {
		t.Errorf("errors by kind %v of %d requests, want timeouts", s.ErrorsByKind, s.Requests)
	}
	if s.Latency.Min < 300 {
		t.Errorf("a timed-out request took %gms, less than the 300ms timeout", s.Latency.Min)
	}
	if res.elapsed > 2500*time.Millisecond {
		t.Errorf("run took %s, want about duration + timeout", res.elapsed)
	}
}

// 4xx and 5xx are told apart per endpoint.
func TestHTTPErrors_CountedByKindAndEndpoint(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RequestURI() != "/x/?v=1" {
			t.Errorf("request for %q, want the -url's path and query", r.URL.RequestURI())
		}
		switch n.Add(1) % 4 {
		case 0:
			http.Error(w, `{"error":{"code":"boom"}}`, http.StatusInternalServerError)
		case 1:
			http.Error(w, `{"error":{"code":"nope"}}`, http.StatusTooManyRequests)
		default:
			_, _ = w.Write([]byte("ok"))
		}
	}))
	t.Cleanup(srv.Close)
	res := runMain(t, context.Background(), Telemetry{},
		"-url", srv.URL+"/x/?v=1", "-rate", "100", "-duration", "1s", "-think", "0",
		"-threshold", "GET /x/:errors<10%")
	if code := ExitCode(res.err); code != ExitThresholds {
		t.Fatalf("exit %d (%v), want %d", code, res.err, ExitThresholds)
	}
	ep := res.endpoint(t, "GET /x/")
	if ep.ErrorsByKind[gateway.OutcomeHTTP5xx] != 25 || ep.ErrorsByKind[gateway.OutcomeHTTP4xx] != 25 || ep.Requests != 100 {
		t.Errorf("endpoint %+v, want 25 http_5xx and 25 http_4xx of 100", ep)
	}
	if ep.StatusClasses["2xx"] != 50 || ep.StatusClasses["5xx"] != 25 || ep.StatusClasses["4xx"] != 25 {
		t.Errorf("status classes %v", ep.StatusClasses)
	}
	if !strings.Contains(res.stdout, "http_4xx 25, http_5xx 25") {
		t.Errorf("text summary lacks the error kinds:\n%s", res.stdout)
	}
}

// Ctrl-C: the run stops, reports what ran, and exits with the interrupt code.
func TestInterrupt_ReportsWhatRan(t *testing.T) {
	srv := httptest.NewServer(gatewaytest.New("test-interrupt", 30).Handler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(700*time.Millisecond, cancel)
	html := filepath.Join(t.TempDir(), "r.html")
	res := runMain(t, ctx, Telemetry{},
		"-target", srv.URL, "-run-id", "test-interrupt", "-rate", "50", "-duration", "1m", "-think", "10ms-50ms",
		"-html", html)
	if code := ExitCode(res.err); code != ExitInterrupted {
		t.Fatalf("exit %d (%v), want %d", code, res.err, ExitInterrupted)
	}
	if res.elapsed > 3*time.Second {
		t.Errorf("interrupt took %s to take effect", res.elapsed)
	}
	if !res.sum.Interrupted || res.sum.Requests == 0 || res.sum.Passed {
		t.Errorf("summary %+v", res.sum)
	}
	if !strings.Contains(res.stdout, "INTERRUPTED") {
		t.Errorf("stdout lacks the report:\n%s", res.stdout)
	}
	if b, err := os.ReadFile(html); err != nil || !strings.Contains(string(b), "INTERRUPTED") {
		t.Errorf("HTML report not written: %v", err)
	}
}

// -abort-on-fail stops a run whose threshold is clearly broken long before its end.
func TestAbortOnFail_StopsEarly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	res := runMain(t, context.Background(), Telemetry{},
		"-url", srv.URL+"/", "-rate", "200", "-duration", "30s", "-think", "0",
		"-threshold", "errors<1%", "-abort-on-fail")
	if code := ExitCode(res.err); code != ExitThresholds {
		t.Fatalf("exit %d (%v), want %d", code, res.err, ExitThresholds)
	}
	if res.elapsed > 5*time.Second {
		t.Errorf("aborting took %s", res.elapsed)
	}
	if res.sum.AbortedOn != "errors<1%" || !strings.Contains(res.err.Error(), "aborted early") {
		t.Errorf("aborted_on %q, err %v", res.sum.AbortedOn, res.err)
	}
}
