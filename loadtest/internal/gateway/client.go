package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// maxBody bounds how much of a response is kept: scenarios only need ids from it, and a
// misbehaving target must not be able to exhaust the generator's memory.
const maxBody = 4 << 20

// Options configure a Client.
type Options struct {
	BaseURL   string // target URL without a trailing slash; a call's path follows it
	Timeout   time.Duration
	RunID     string
	IdleConns int // idle connections kept: one per session that may be in flight
	// Traced sends every request through otelhttp with these providers. Otherwise the
	// Propagator's headers are computed once (see NewClient).
	Traced         bool
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Propagator     propagation.TextMapPropagator
}

// Client sends calls to the gateway. Traced, its transport makes a client span per
// request and injects trace context and the synthetic-traffic baggage; untraced, it
// sends the same headers, computed once.
type Client struct {
	// rt is otelhttp around transport, or transport alone when the tracer and meter
	// providers are both no-ops: otelhttp would then only make non-recording spans and
	// no-op measurements (BenchmarkRequest_URLMode/telemetry=off: 74 allocations per
	// request through otelhttp, 46 without). Requests go to it directly, not through an
	// http.Client: the generator never follows redirects (an API that redirects is
	// misbehaving; the 3xx is reported) and keeps no cookies, so http.Client would only
	// add a copy of every request's headers (53 allocations instead of 46).
	rt        http.RoundTripper
	transport *http.Transport
	traced    bool
	base      string
	timeout   time.Duration
	bag       baggage.Baggage
	// header is what every request carries. Requests with no header of their own share
	// it (a copy each: 49 allocations per request instead of 46); neither the transport
	// nor otelhttp (which clones the request) writes to it.
	// Untraced, it also holds the propagator's output: with no span to start, that is
	// the run's baggage (and the trace context in ctx, if any), the same every time.
	header http.Header
	runID  string
}

// requestInfo travels in a traced request's context so the span name, the span's
// attributes and the captured trace id all come from the endpoint template.
type requestInfo struct {
	endpoint Endpoint
	span     trace.SpanContext // set by captureTransport inside the client span
	// attrs label the span: url.template, loadtest.scenario, loadtest.run. The first
	// also labels otelhttp's metrics. Kept here so neither allocates a slice per request
	// (telemetry=sdk: 87 allocations per request with slices, 85 without).
	attrs [3]attribute.KeyValue
}

type requestInfoKey struct{}

func requestInfoFrom(r *http.Request) (*requestInfo, bool) {
	info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo)
	return info, ok
}

// NewClient makes the client of one run. Untraced, the headers the propagator injects
// into ctx (the baggage, and ctx's trace context if it has one) go with every request.
func NewClient(ctx context.Context, o Options) (*Client, error) {
	bag, err := syntheticBaggage(o.RunID)
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{
		Proxy:       http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		// Every session in flight may hold a connection; fewer idle slots would close
		// and redial connections under load, which the target would see as churn.
		MaxIdleConnsPerHost:   o.IdleConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   o.Timeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		// The gateway does not compress, and asking would cost a header per request
		// (49 allocations per request instead of 46) and a gzip reader per compressed
		// answer for bodies of a few kilobytes.
		DisableCompression: true,
	}
	header := http.Header{
		"Accept":     {"application/json"},
		"User-Agent": {"shop-loadgen/1 (run " + o.RunID + ")"},
	}
	var rt http.RoundTripper = transport
	if o.Traced {
		rt = tracedTransport(transport, o)
	} else {
		o.Propagator.Inject(baggage.ContextWithBaggage(ctx, bag), propagation.HeaderCarrier(header))
	}
	return &Client{
		rt:        rt,
		transport: transport,
		traced:    o.Traced,
		base:      o.BaseURL,
		timeout:   o.Timeout,
		bag:       bag,
		header:    header,
		runID:     o.RunID,
	}, nil
}

// tracedTransport makes a client span per request, named after the route template, and
// injects trace context and baggage.
func tracedTransport(transport *http.Transport, o Options) http.RoundTripper {
	return otelhttp.NewTransport(captureTransport{base: transport},
		otelhttp.WithTracerProvider(o.TracerProvider),
		otelhttp.WithMeterProvider(o.MeterProvider),
		otelhttp.WithPropagators(o.Propagator),
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

// Base is the URL every call's path is appended to.
func (c *Client) Base() string { return c.base }

// Close closes the idle connections.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

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

// Call is one request a scenario step makes.
type Call struct {
	Endpoint Endpoint
	Path     string // the filled-in path; stays out of metrics and reports
	Query    string // encoded query, without '?'
	Body     any    // sent as JSON when not nil
	Token    string // bearer token for authenticated routes
	Header   map[string]string
	// Accept lists the statuses that count as success; nil means 200 only.
	Accept []int
	// Decode checks a successful response against the contract and keeps what the
	// caller needs from it; an error makes the outcome bad_response. It must not keep
	// the body: the bytes may be a buffer the caller reuses for its next request.
	Decode func(status int, body []byte) error
}

// Response is what came back, timed from the send to the last byte read.
type Response struct {
	Status    int
	Body      []byte // read only when the call decodes it
	Err       error
	Sent, End time.Time
	Span      trace.SpanContext // the client span's, when traced
}

// Send makes one call, labelled with the scenario that makes it. buf receives the body
// when the call decodes it; nil allocates.
func (c *Client) Send(ctx context.Context, cl *Call, scenario string, buf *bytes.Buffer) Response {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var info *requestInfo
	if c.traced {
		info = &requestInfo{endpoint: cl.Endpoint, attrs: [3]attribute.KeyValue{
			attribute.String("url.template", cl.Endpoint.Route),
			attribute.String("loadtest.scenario", scenario),
			attribute.String("loadtest.run", c.runID),
		}}
		ctx = context.WithValue(baggage.ContextWithBaggage(ctx, c.bag), requestInfoKey{}, info)
	}
	req, err := c.newRequest(ctx, cl)
	if err != nil {
		now := time.Now()
		return Response{Err: err, Sent: now, End: now}
	}

	res := Response{Sent: time.Now()}
	resp, err := c.rt.RoundTrip(req)
	if err == nil {
		res.Status = resp.StatusCode
		res.Body, err = readBody(resp.Body, cl.Decode != nil, buf)
		if err != nil {
			err = fmt.Errorf("read %s response: %w", cl.Endpoint, err)
		}
	}
	res.End, res.Err = time.Now(), err
	if info != nil {
		res.Span = info.span
	}
	return res
}

// Do sends a call at once and checks it, for the set-up before the run (catalog
// discovery): nothing is recorded.
func (c *Client) Do(ctx context.Context, cl *Call) error {
	_, err := cl.Check(c.Send(ctx, cl, "discovery", nil))
	return err
}

// newRequest builds the request for one call.
func (c *Client) newRequest(ctx context.Context, cl *Call) (*http.Request, error) {
	var body io.Reader
	if cl.Body != nil {
		b, err := json.Marshal(cl.Body)
		if err != nil {
			return nil, fmt.Errorf("encode %s body: %w", cl.Endpoint, err)
		}
		body = bytes.NewReader(b)
	}
	u := c.base + cl.Path
	if cl.Query != "" {
		u += "?" + cl.Query
	}
	req, err := http.NewRequestWithContext(ctx, cl.Endpoint.Method, u, body)
	if err != nil {
		return nil, fmt.Errorf("build %s request: %w", cl.Endpoint, err)
	}
	req.Header = c.headerFor(cl)
	return req, nil
}

// headerFor returns the shared header, or a copy with the call's own headers added.
func (c *Client) headerFor(cl *Call) http.Header {
	if cl.Body == nil && cl.Token == "" && len(cl.Header) == 0 {
		return c.header
	}
	h := c.header.Clone()
	if cl.Body != nil {
		h.Set("Content-Type", "application/json")
	}
	if cl.Token != "" {
		h.Set("Authorization", "Bearer "+cl.Token)
	}
	for k, v := range cl.Header {
		h.Set(k, v)
	}
	return h
}

// readBody reads the body to its end, so the connection goes back to the pool, and
// closes it. When keep is set, the first maxBody bytes are read into buf and returned;
// otherwise the body is discarded through io.Discard's pooled buffer (reading it costs
// an allocation and 500 bytes per request).
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
