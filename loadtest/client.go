package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// maxBody bounds how much of a response is kept: scenarios only need ids from it, and a
// misbehaving target must not be able to exhaust the generator's memory.
const maxBody = 4 << 20

// client sends the scenarios' requests. With telemetry wired, its transport makes a
// client span per request and injects trace context and the synthetic-traffic baggage;
// without, it sends the same headers, computed once.
type client struct {
	// rt is otelhttp around transport, or transport alone when the tracer and meter
	// providers are both no-ops: otelhttp would then only make non-recording spans and
	// no-op measurements, for 13% of the generator's CPU in the profile. Requests go to
	// it directly, not through an http.Client: the generator never follows redirects
	// (an API that redirects is misbehaving; the 3xx is reported) and keeps no cookies,
	// so http.Client would only add a copy of every request's headers.
	rt        http.RoundTripper
	transport *http.Transport
	traced    bool
	base      string // target URL without a trailing slash
	timeout   time.Duration
	bag       baggage.Baggage
	// header is what every request carries. Requests with no header of their own share
	// it; neither the transport nor otelhttp (which clones the request) writes to it.
	// Untraced, it also holds the propagator's output: with no span to start, that is
	// the run's baggage (and the caller's trace context, if any), the same every time.
	header http.Header
	runID  string
}

// requestInfo travels in the request's context so the span name, the span's attributes
// and the captured trace id all come from the endpoint template. Only traced requests
// carry one.
type requestInfo struct {
	endpoint endpoint
	span     trace.SpanContext // set by captureTransport inside the client span
	// attrs label the span: url.template, loadtest.scenario, loadtest.run. The first
	// also labels otelhttp's metrics. Kept here so neither allocates a slice per request.
	attrs [3]attribute.KeyValue
}

type requestInfoKey struct{}

func requestInfoFrom(r *http.Request) (*requestInfo, bool) {
	info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo)
	return info, ok
}

func newClient(ctx context.Context, cfg config, tel Telemetry, idleConns int) (*client, error) {
	bag, err := syntheticBaggage(cfg.runID)
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{
		Proxy:       http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{Timeout: cfg.timeout, KeepAlive: 30 * time.Second}).DialContext,
		// Every session in flight may hold a connection; fewer idle slots would close
		// and redial connections under load, which the target would see as churn.
		MaxIdleConnsPerHost:   idleConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.timeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		// The gateway does not compress, and asking would cost a header per request and
		// a gzip reader per compressed answer for bodies of a few kilobytes.
		DisableCompression: true,
	}
	header := http.Header{
		"Accept":     {"application/json"},
		"User-Agent": {"shop-loadgen/1 (run " + cfg.runID + ")"},
	}
	var rt http.RoundTripper = transport
	if tel.traced {
		rt = tracedTransport(transport, tel)
	} else {
		tel.Propagator.Inject(baggage.ContextWithBaggage(ctx, bag), propagation.HeaderCarrier(header))
	}
	// The gateway may sit under a path prefix; in -url mode the path is the call's.
	base := strings.TrimRight(cfg.target.Scheme+"://"+cfg.target.Host+cfg.target.EscapedPath(), "/")
	if cfg.single != nil {
		base = cfg.single.Scheme + "://" + cfg.single.Host
	}
	return &client{
		rt:        rt,
		transport: transport,
		traced:    tel.traced,
		base:      base,
		timeout:   cfg.timeout,
		bag:       bag,
		header:    header,
		runID:     cfg.runID,
	}, nil
}

// tracedTransport makes a client span per request, named after the route template, and
// injects trace context and baggage.
func tracedTransport(transport *http.Transport, tel Telemetry) http.RoundTripper {
	return otelhttp.NewTransport(captureTransport{base: transport},
		otelhttp.WithTracerProvider(tel.TracerProvider),
		otelhttp.WithMeterProvider(tel.MeterProvider),
		otelhttp.WithPropagators(tel.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if info, ok := requestInfoFrom(r); ok {
				return info.endpoint.String()
			}
			return r.Method
		}),
		otelhttp.WithMetricAttributesFn(func(r *http.Request) []attribute.KeyValue {
			if info, ok := requestInfoFrom(r); ok {
				return info.attrs[:1] // otelhttp appends it to a slice of its own
			}
			return nil
		}),
	)
}

// syntheticBaggage marks every request of the run, so services can tell load from
// shoppers and traces can be found by run.
func syntheticBaggage(runID string) (baggage.Baggage, error) {
	synthetic, err := baggage.NewMemberRaw("synthetic", "true")
	if err != nil {
		return baggage.Baggage{}, fmt.Errorf("baggage: %w", err)
	}
	run, err := baggage.NewMemberRaw("loadtest.run", runID)
	if err != nil {
		return baggage.Baggage{}, fmt.Errorf("baggage: %w", err)
	}
	return baggage.New(synthetic, run)
}

func (c *client) close() {
	c.transport.CloseIdleConnections()
}

// captureTransport runs inside otelhttp's span: it notes the span's trace id for the
// report and labels the span with the route template, the scenario and the run, so a
// run's traffic can be searched for in Jaeger.
type captureTransport struct {
	base http.RoundTripper
}

func (t captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if info, ok := requestInfoFrom(r); ok {
		span := trace.SpanFromContext(r.Context())
		info.span = span.SpanContext()
		span.SetAttributes(info.attrs[:]...)
	}
	return t.base.RoundTrip(r)
}

// call is one request a scenario step makes.
type call struct {
	ep     endpoint
	path   string // the filled-in path; stays out of metrics and reports
	query  string // encoded query, without '?'
	body   any    // sent as JSON when not nil
	token  string // bearer token for authenticated routes
	header map[string]string
	// accept lists the statuses that count as success; nil means 200 only.
	accept []int
	// decode checks a successful response against the contract and keeps what the
	// session needs from it; an error makes the outcome bad_response. It must not keep
	// the body: the bytes are the session's buffer, reused by its next request.
	decode func(status int, body []byte) error
}

// response is what came back, timed from the send to the last byte read.
type response struct {
	status    int
	body      []byte // read only when the call decodes it
	err       error
	sent, end time.Time
	span      trace.SpanContext
}

// send makes one call. buf receives the body when the call decodes it; nil allocates.
func (c *client) send(ctx context.Context, cl *call, scenario string, buf *bytes.Buffer) response {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var info *requestInfo
	if c.traced {
		info = &requestInfo{endpoint: cl.ep, attrs: [3]attribute.KeyValue{
			attribute.String("url.template", cl.ep.route),
			attribute.String("loadtest.scenario", scenario),
			attribute.String("loadtest.run", c.runID),
		}}
		ctx = context.WithValue(baggage.ContextWithBaggage(ctx, c.bag), requestInfoKey{}, info)
	}
	req, err := c.newRequest(ctx, cl)
	if err != nil {
		now := time.Now()
		return response{err: err, sent: now, end: now}
	}

	res := response{sent: time.Now()}
	resp, err := c.rt.RoundTrip(req)
	if err == nil {
		res.status = resp.StatusCode
		res.body, err = readBody(resp.Body, cl.decode != nil, buf)
		if err != nil {
			err = fmt.Errorf("read %s response: %w", cl.ep, err)
		}
	}
	res.end, res.err = time.Now(), err
	if info != nil {
		res.span = info.span
	}
	return res
}

// newRequest builds the request for one call.
func (c *client) newRequest(ctx context.Context, cl *call) (*http.Request, error) {
	var body io.Reader
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return nil, fmt.Errorf("encode %s body: %w", cl.ep, err)
		}
		body = bytes.NewReader(b)
	}
	u := c.base + cl.path
	if cl.query != "" {
		u += "?" + cl.query
	}
	req, err := http.NewRequestWithContext(ctx, cl.ep.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("build %s request: %w", cl.ep, err)
	}
	req.Header = c.headerFor(cl)
	return req, nil
}

// headerFor returns the shared header, or a copy with the call's own headers added.
func (c *client) headerFor(cl *call) http.Header {
	if cl.body == nil && cl.token == "" && len(cl.header) == 0 {
		return c.header
	}
	h := c.header.Clone()
	if cl.body != nil {
		h.Set("Content-Type", "application/json")
	}
	if cl.token != "" {
		h.Set("Authorization", "Bearer "+cl.token)
	}
	for k, v := range cl.header {
		h.Set(k, v)
	}
	return h
}

// readBody reads the body to its end, so the connection goes back to the pool, and
// closes it. When keep is set, the first maxBody bytes are read into buf and returned.
func readBody(body io.ReadCloser, keep bool, buf *bytes.Buffer) ([]byte, error) {
	defer body.Close()
	if !keep {
		_, err := io.Copy(io.Discard, body)
		return nil, err
	}
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	_, err := buf.ReadFrom(io.LimitReader(body, maxBody))
	// Drain what the limit left so the connection can be reused.
	_, _ = io.Copy(io.Discard, body)
	return buf.Bytes(), err
}

// classify turns a response into one of the outcome kinds.
func classify(res response, accept []int) string {
	if res.err != nil {
		return classifyError(res.err)
	}
	if accept == nil {
		if res.status == http.StatusOK {
			return outcomeOK
		}
	} else {
		for _, s := range accept {
			if res.status == s {
				return outcomeOK
			}
		}
	}
	switch {
	case res.status >= 500:
		return outcomeHTTP5xx
	case res.status >= 400:
		return outcomeHTTP4xx
	default:
		return outcomeUnexpected
	}
}

func classifyError(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return outcomeTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return outcomeRefused
	case errors.As(err, &ne) && ne.Timeout():
		return outcomeTimeout
	default:
		return outcomeNetwork
	}
}
