package telemetry

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

type urlTemplateKey struct{}

// WithURLTemplate names the route an outbound request goes to ("/v1/products/{id}"), so
// its client span is named "GET /v1/products/{id}" rather than after a raw path.
func WithURLTemplate(ctx context.Context, template string) context.Context {
	return context.WithValue(ctx, urlTemplateKey{}, template)
}

// HTTPClient returns a client whose requests carry the trace context and produce client
// spans and http.client.request.duration. timeout bounds each whole call.
func (t *Telemetry) HTTPClient(timeout time.Duration) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	// The services call each other a lot; keep enough idle connections per host.
	base.MaxIdleConnsPerHost = 64
	return &http.Client{
		Timeout: timeout,
		Transport: otelhttp.NewTransport(base,
			otelhttp.WithTracerProvider(t.TracerProvider),
			otelhttp.WithMeterProvider(t.MeterProvider),
			otelhttp.WithPropagators(t.Propagator),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
				if tmpl, ok := r.Context().Value(urlTemplateKey{}).(string); ok {
					return r.Method + " " + tmpl
				}
				return r.Method
			}),
		),
	}
}
