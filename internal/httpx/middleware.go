package httpx

import (
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strings"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Middleware is what every service runs behind, inside its telemetry middleware:
// it bounds bodies, puts the logger in reach of the error path, and turns a panic into
// a logged, traced 500 instead of a dead process.
func Middleware(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p) // net/http's own signal to abort the response silently
			}
			ctx := r.Context()
			err := fmt.Errorf("panic: %v", p)
			span := trace.SpanFromContext(ctx)
			span.RecordError(err, trace.WithStackTrace(true))
			span.SetStatus(codes.Error, "panic")
			logger.ErrorContext(ctx, "panic serving request", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			WriteJSON(w, http.StatusInternalServerError, errorBody{&Error{Code: "internal", Message: "internal error"}})
		}()
		// A path with . or .. segments or doubled slashes is refused, not redirected
		// to its clean form: a redirect would lead a client past the route it asked for.
		if p := r.URL.Path; p != "" && p != "/" {
			clean := path.Clean(p)
			if strings.HasSuffix(p, "/") {
				clean += "/"
			}
			if clean != p {
				WriteJSON(w, http.StatusBadRequest, errorBody{BadRequest("invalid_path", "the path must not hold . or .. segments or empty ones")})
				return
			}
		}
		// Mutating r rather than copying it keeps r.Pattern visible to the telemetry
		// middleware outside, which names spans and metrics by route.
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		}
		*r = *r.WithContext(WithLogger(r.Context(), logger))
		next.ServeHTTP(w, r)
	})
}
