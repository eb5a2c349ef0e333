package telemetry

import (
	"context"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

const httpScope = "github.com/otelshop/shop/telemetry/http"

// HTTPServer instruments inbound requests: a server span per request named
// "METHOD /route" following the HTTP semantic conventions, and the
// http.server.request.duration histogram by method, route and status code.
//
// It is leaner than otelhttp's handler (see BenchmarkHTTPServer): span names and
// metric attribute sets are built once per (method, route, status) and reused, and
// nothing else is wrapped.
// The route comes from the ServeMux pattern, so next must be the mux itself or pass
// the same *http.Request down to it (a middleware that calls r.WithContext before the
// mux would hide the pattern).
func (t *Telemetry) HTTPServer(next http.Handler) http.Handler {
	meter := t.Meter(httpScope)
	duration, err := meter.Float64Histogram("http.server.request.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP server requests."),
		metric.WithExplicitBucketBoundaries(secondsBuckets...))
	if err != nil {
		t.Logger.Error("create http.server.request.duration", "error", err)
	}
	repeats, err := meter.Int64Histogram("shop.db.statement_repeats",
		metric.WithUnit("{execution}"),
		metric.WithDescription("Per request that queried the database, how often its most repeated SQL statement ran: N+1 queries show as repeats."),
		metric.WithExplicitBucketBoundaries(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64))
	if err != nil {
		t.Logger.Error("create shop.db.statement_repeats", "error", err)
	}
	s := &httpServer{
		next:       next,
		tracer:     t.Tracer(httpScope),
		propagator: t.Propagator,
		duration:   duration,
		repeats:    repeats,
		kinds:      map[metricKey]requestKind{},
	}
	return s
}

type httpServer struct {
	next       http.Handler
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	duration   metric.Float64Histogram
	repeats    metric.Int64Histogram

	mu    sync.RWMutex
	kinds map[metricKey]requestKind
}

type metricKey struct {
	method, route string
	status        int
}

// spanAttrs holds the attributes a server span is started and finished with.
// The SDK copies what it is given, so one pooled array serves both calls instead of
// two allocations per request.
var spanAttrs = sync.Pool{New: func() any { return new([5]attribute.KeyValue) }}

// serverKind is built once: a fresh option per request would be an allocation.
var serverKind = trace.WithSpanKind(trace.SpanKindServer)

func (s *httpServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx := s.propagator.Extract(r.Context(), requestHeaderCarrier(r.Header))
	method := knownMethod(r.Method)
	attrs := spanAttrs.Get().(*[5]attribute.KeyValue)
	defer func() {
		*attrs = [5]attribute.KeyValue{} // drop the strings before pooling
		spanAttrs.Put(attrs)
	}()
	*attrs = [5]attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(method),
		semconv.URLPath(r.URL.Path),
		semconv.URLScheme(scheme(r)),
		semconv.ServerAddress(r.Host),
		semconv.UserAgentOriginal(r.UserAgent()),
	}
	// No WithTimestamp: the SDK reads the clock itself a few nanoseconds later, and
	// the option would cost an allocation.
	ctx, span := s.tracer.Start(ctx, method, serverKind, trace.WithAttributes(attrs[:]...))
	statements := statementPool.Get().(*statementCounts)
	defer func() {
		statements.reset()
		statementPool.Put(statements)
	}()
	ctx = context.WithValue(ctx, statementsKey{}, statements)
	rec := &statusRecorder{ResponseWriter: w}
	r = r.WithContext(ctx)

	s.next.ServeHTTP(rec, r)

	status := rec.statusOrOK()
	route := routeOf(r.Pattern)
	kind := s.kind(method, route, status)
	attrs[0] = semconv.HTTPResponseStatusCode(status)
	if route != "" {
		span.SetName(kind.spanName)
		attrs[1] = semconv.HTTPRoute(route)
		span.SetAttributes(attrs[:2]...)
	} else {
		span.SetAttributes(attrs[:1]...)
	}
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
	s.duration.Record(ctx, time.Since(start).Seconds(), kind.metricOpt)
	if n := statements.mostRepeated(); n > 0 {
		s.repeats.Record(ctx, n, kind.routeOpt)
	}
}

// requestKind is what every request of one (method, route, status) shares: the span
// name and the metric attributes, built once.
type requestKind struct {
	spanName  string
	metricOpt metric.RecordOption
	routeOpt  metric.RecordOption // method and route only
}

// kind returns the requestKind of a request, building it the first time. Routes,
// methods and status codes are bounded, so the map is too.
func (s *httpServer) kind(method, route string, status int) requestKind {
	key := metricKey{method, route, status}
	s.mu.RLock()
	k, ok := s.kinds[key]
	s.mu.RUnlock()
	if ok {
		return k
	}
	kvs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(method),
		semconv.HTTPResponseStatusCode(status),
		semconv.URLScheme("http"),
	}
	if route != "" {
		kvs = append(kvs, semconv.HTTPRoute(route))
	}
	if status >= 500 {
		kvs = append(kvs, semconv.ErrorTypeKey.String(strconv.Itoa(status)))
	}
	routeKVs := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(method)}
	if route != "" {
		routeKVs = append(routeKVs, semconv.HTTPRoute(route))
	}
	k = requestKind{spanName: method, metricOpt: metric.WithAttributeSet(attribute.NewSet(kvs...)),
		routeOpt: metric.WithAttributeSet(attribute.NewSet(routeKVs...))}
	if route != "" {
		k.spanName = method + " " + route
	}
	s.mu.Lock()
	s.kinds[key] = k
	s.mu.Unlock()
	return k
}

// routeOf turns a ServeMux pattern ("GET /api/products/{id}") into http.route.
func routeOf(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		return pattern[i+1:]
	}
	return pattern
}

// knownMethod keeps span names and metric attributes bounded: the semantic conventions
// fold unknown methods into _OTHER.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch,
		http.MethodHead, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// requestHeaderCarrier reads trace context from request headers. It differs from
// propagation.HeaderCarrier only in that the keys the propagators ask for are
// canonicalized without allocating: three allocations per request otherwise.
type requestHeaderCarrier http.Header

func (c requestHeaderCarrier) Get(key string) string {
	switch key {
	case "traceparent":
		key = "Traceparent"
	case "tracestate":
		key = "Tracestate"
	case "baggage":
		key = "Baggage"
	default:
		key = textproto.CanonicalMIMEHeaderKey(key)
	}
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c requestHeaderCarrier) Set(key, value string) { propagation.HeaderCarrier(c).Set(key, value) }
func (c requestHeaderCarrier) Keys() []string        { return propagation.HeaderCarrier(c).Keys() }

// statusRecorder remembers the status code; Unwrap keeps http.ResponseController
// (flushes, deadlines) working through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusRecorder) statusOrOK() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
