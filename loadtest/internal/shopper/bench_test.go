package shopper

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelshop/shop/loadtest/internal/gateway"
	"github.com/otelshop/shop/loadtest/internal/metrics"
)

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

// BenchmarkRequest_URLMode is one -url session (one GET, as compare.sh runs it) per
// op: allocs/op is the generator's allocations per request, transport included.
func BenchmarkRequest_URLMode(b *testing.B) {
	for _, tc := range []struct {
		name   string
		traced bool
	}{{"telemetry=off", false}, {"telemetry=sdk", true}} {
		b.Run(tc.name, func(b *testing.B) {
			base := cannedServer(b)
			var o gateway.Options
			var inst *metrics.Instruments
			if tc.traced {
				tp, mp := sdkProviders(b)
				o = gateway.Options{Traced: true, TracerProvider: tp, MeterProvider: mp}
				u, _ := url.Parse(base + "/")
				inst = newInstruments(b, mp, []gateway.Endpoint{gateway.URLEndpoint(u)}, URLMix(gateway.URLEndpoint(u), ""))
			}
			shoppers, rec := urlShoppers(b, newClient(b, base, o), inst, time.Now())
			b.ReportAllocs()
			for b.Loop() {
				shoppers.Run(time.Time{}, nil)
			}
			if l := rec.Live(); l.Requests != int64(b.N) || l.Failed != 0 {
				b.Fatalf("%d requests, %d failed, want %d ok", l.Requests, l.Failed, b.N)
			}
		})
	}
}

// BenchmarkRequest_AuthenticatedPost is one request with a bearer token, a JSON body
// and a decode step per op: the header and body work a shop scenario adds to the
// client's path. The call is built by hand, as a constant, so the figure is the
// session's and the client's work alone (BenchmarkRequest_AddToCart adds the builder).
func BenchmarkRequest_AuthenticatedPost(b *testing.B) {
	shoppers, _ := urlShoppers(b, newClient(b, cannedServer(b), gateway.Options{}), nil, time.Now())
	s := shoppers.acquire(1)
	s.scenario, s.paced, s.token = "cart", true, "token-0123456789abcdef"
	ep := gateway.NewEndpoint(http.MethodPost, "/api/cart/items")
	b.ReportAllocs()
	for b.Loop() {
		err := s.do(&gateway.Call{
			Endpoint: ep,
			Path:     ep.Route,
			Body:     gateway.CartItem{ProductID: "p-1", Quantity: 2},
			Token:    s.token,
			Decode:   func(_ int, body []byte) error { return errIfEmpty(body) },
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequest_AddToCart is the cart scenario's step as it runs: the call built by
// gateway.AddCartItem, its body marshalled from a struct, the answer checked against the
// contract (the canned "ok" fails that check, which is recorded as bad_response).
func BenchmarkRequest_AddToCart(b *testing.B) {
	shoppers, _ := urlShoppers(b, newClient(b, cannedServer(b), gateway.Options{}), nil, time.Now())
	s := shoppers.acquire(1)
	s.scenario, s.paced, s.token = "cart", true, "token-0123456789abcdef"
	var gerr *gateway.Error
	b.ReportAllocs()
	for b.Loop() {
		if err := s.do(gateway.AddCartItem(s.token, "p-1", 2, &s.cart)); !errors.As(err, &gerr) || gerr.Outcome != gateway.OutcomeBadResponse {
			b.Fatalf("err %v, want a bad_response", err)
		}
	}
}

func errIfEmpty(body []byte) error {
	if len(body) == 0 {
		return errors.New("empty body")
	}
	return nil
}

// sdkProviders are telemetry as cmd/shop wires it, minus the exporters: every span is
// sampled, recorded and ended, then dropped; metrics aggregate until read.
func sdkProviders(b *testing.B) (*sdktrace.TracerProvider, *sdkmetric.MeterProvider) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return tp, mp
}
