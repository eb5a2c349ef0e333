package telemetry

import (
	"net/http"
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
// It is leaner than otelhttp's handler (see BenchmarkHTTPServer): attribute sets are
// built once per (method, route, status) and reused, and nothing else is wrapped.
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
	s := &httpServer{
		next:       next,
		tracer:     t.Tracer(httpScope),
		propagator: t.Propagator,
		duration:   duration,
		sets:       map[metricKey]attribute.Set{},
	}
	return s
}

type httpServer struct {
	next       http.Handler
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	duration   metric.Float64Histogram

	mu   sync.RWMutex
	sets map[metricKey]attribute.Set
}

type metricKey struct {
	method, route string
	status        int
}

func (s *httpServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx := s.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	method := knownMethod(r.Method)
	ctx, span := s.tracer.Start(ctx, method,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start),
		trace.WithAttributes(
			semconv.HTTPRequestMethodKey.String(method),
			semconv.URLPath(r.URL.Path),
			semconv.URLScheme(scheme(r)),
			semconv.ServerAddress(r.Host),
			semconv.UserAgentOriginal(r.UserAgent()),
		))
	rec := &statusRecorder{ResponseWriter: w}
	r = r.WithContext(ctx)

	s.next.ServeHTTP(rec, r)

	status := rec.statusOrOK()
	route := routeOf(r.Pattern)
	if route != "" {
		span.SetName(method + " " + route)
		span.SetAttributes(semconv.HTTPRoute(route), semconv.HTTPResponseStatusCode(status))
	} else {
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	}
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
	s.duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributeSet(s.attributes(method, route, status)))
}

// attributes returns the metric attributes for one kind of request. The set is built
// once and cached: routes, methods and status codes are bounded, so the map is too.
func (s *httpServer) attributes(method, route string, status int) attribute.Set {
	key := metricKey{method, route, status}
	s.mu.RLock()
	set, ok := s.sets[key]
	s.mu.RUnlock()
	if ok {
		return set
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
	set = attribute.NewSet(kvs...)
	s.mu.Lock()
	s.sets[key] = set
	s.mu.Unlock()
	return set
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
