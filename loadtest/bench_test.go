package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
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
// compare.sh for the generator alone, side by side with wrk, hey and fortio).
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

// cannedServer answers every HTTP/1.1 request on a keep-alive connection with the same
// fixed 200 response, allocating nothing per request, so a benchmark's allocations are
// the generator's own (an httptest server in the same process would add net/http's
// server-side allocations to every figure).
func cannedServer(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var conns sync.WaitGroup
	tb.Cleanup(func() {
		_ = ln.Close()
		conns.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { serveCanned(c) })
		}
	}()
	return "http://" + ln.Addr().String()
}

var cannedResponse = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")

// serveCanned reads each request's head (and a Content-Length body) and answers it.
func serveCanned(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		var bodyLen int64
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(bytes.TrimSpace(line)) == 0 {
				break
			}
			if name, value, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(name, []byte("Content-Length")) {
				bodyLen = parseDigits(bytes.TrimSpace(value))
			}
		}
		if _, err := br.Discard(int(bodyLen)); err != nil {
			return
		}
		if _, err := c.Write(cannedResponse); err != nil {
			return
		}
	}
}

// parseDigits reads a decimal number without the allocation strconv would make for
// the string conversion.
func parseDigits(b []byte) int64 {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// benchRunner is a runner ready to send requests, as execute leaves it, without the
// arrival loop: a benchmark drives the sessions itself.
func benchRunner(b *testing.B, tel Telemetry, args ...string) *runner {
	b.Helper()
	cfg, err := parseConfig(args, testEnv(nil), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	tel = tel.withDefaults()
	inst, err := newInstruments(tel)
	if err != nil {
		b.Fatal(err)
	}
	r, err := newRunner(context.Background(), cfg, tel, inst)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		r.cancelRequests()
		r.client.close()
	})
	r.start = time.Now()
	names := make([]string, len(r.mix))
	for i, w := range r.mix {
		names[i] = w.scenario.name
	}
	r.rec = newRecorder(r.start, cfg.profile.duration(), r.endpoints, names, cfg.topN)
	r.arrivalsDone = make(chan struct{})
	return r
}

// BenchmarkRequest_URLMode is one -url session (one GET, as compare.sh runs it) per
// op: allocs/op is the generator's allocations per request, transport included.
func BenchmarkRequest_URLMode(b *testing.B) {
	for _, tc := range []struct {
		name string
		tel  func(b *testing.B) Telemetry
	}{
		{"telemetry=off", func(*testing.B) Telemetry { return Telemetry{} }},
		{"telemetry=sdk", sdkTelemetry},
	} {
		b.Run(tc.name, func(b *testing.B) {
			url := cannedServer(b) + "/"
			r := benchRunner(b, tc.tel(b), "-url", url, "-mode", "closed", "-vus", "1", "-think", "0")
			b.ReportAllocs()
			for b.Loop() {
				r.runSession(time.Time{}, nil)
			}
			if l := r.rec.live(); l.requests != int64(b.N) || l.failed != 0 {
				b.Fatalf("%d requests, %d failed, want %d ok", l.requests, l.failed, b.N)
			}
		})
	}
}

// BenchmarkRequest_AuthenticatedPost is one scenario request with a bearer token, a JSON
// body and a decode step per op: the header and body work a shop scenario adds.
func BenchmarkRequest_AuthenticatedPost(b *testing.B) {
	r := benchRunner(b, Telemetry{}, "-target", cannedServer(b), "-mode", "closed", "-vus", "1", "-think", "0", "-mix", "cart=1")
	s := r.newSession("cart", nil)
	s.paced, s.token = true, "token-0123456789abcdef"
	b.ReportAllocs()
	for b.Loop() {
		err := s.do(&call{
			ep:     epAddCartItem,
			path:   epAddCartItem.path(),
			body:   cartItem{ProductID: "p-1", Quantity: 2},
			token:  s.token,
			decode: func(_ int, body []byte) error { return errIfEmpty(body) },
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func errIfEmpty(body []byte) error {
	if len(body) == 0 {
		return errors.New("empty body")
	}
	return nil
}

// sdkTelemetry is telemetry as cmd/shop wires it, minus the exporters: every span is
// sampled, recorded and ended, then dropped; metrics aggregate until read.
func sdkTelemetry(b *testing.B) Telemetry {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return Telemetry{TracerProvider: tp, MeterProvider: mp}
}
