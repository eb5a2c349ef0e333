package telemetry

import (
	"context"
	"io"
	"log/slog"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"
)

// newJSONHandler writes one JSON object per record and stamps every record made inside
// a span with trace_id and span_id, so a log line on stdout leads to its trace.
func newJSONHandler(w io.Writer, level slog.Level) slog.Handler {
	return traceContextHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})}
}

type traceContextHandler struct{ slog.Handler }

func (h traceContextHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(
			slog.String("trace_id", sc.TraceID().String()),
			slog.String("span_id", sc.SpanID().String()),
		)
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceContextHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceContextHandler) WithGroup(name string) slog.Handler {
	return traceContextHandler{h.Handler.WithGroup(name)}
}

// newOTLPHandler sends records through the OpenTelemetry log bridge; the bridge takes the
// trace context from ctx itself. The level gate keeps debug records off the wire unless asked.
func newOTLPHandler(lp log.LoggerProvider, level slog.Level) slog.Handler {
	return levelGate{
		Handler: otelslog.NewHandler("github.com/otelshop/shop", otelslog.WithLoggerProvider(lp)),
		min:     level,
	}
}

type levelGate struct {
	slog.Handler
	min slog.Level
}

func (g levelGate) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= g.min && g.Handler.Enabled(ctx, l)
}

func (g levelGate) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelGate{g.Handler.WithAttrs(attrs), g.min}
}

func (g levelGate) WithGroup(name string) slog.Handler {
	return levelGate{g.Handler.WithGroup(name), g.min}
}
