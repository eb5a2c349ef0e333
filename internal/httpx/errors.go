// Package httpx is the one place for the shop's HTTP plumbing: decoding and validating
// JSON, the error body every endpoint answers with, the middleware every service runs
// behind, and serving with a graceful drain.
package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Error is a failure the caller should see: an HTTP status, a stable machine-readable
// code, a message for people and, for bad input, the field at fault.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// RetryAfter, when set, is sent as the Retry-After header (whole seconds).
	RetryAfter time.Duration `json:"-"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.Field, e.Message)
	}
	return e.Code + ": " + e.Message
}

// Invalid reports a field that failed validation.
func Invalid(field, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: field, Message: message}
}

// BadRequest reports a request that cannot be understood at all.
func BadRequest(code, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: message}
}

// NotFound reports a resource that does not exist or is not the caller's.
func NotFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: what + " not found"}
}

// Unauthorized reports missing or bad credentials.
func Unauthorized(message string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: message}
}

// Conflict reports a request that clashes with the current state.
func Conflict(code, message string) *Error {
	return &Error{Status: http.StatusConflict, Code: code, Message: message}
}

// Unavailable reports a dependency that cannot serve now; the client may retry later.
func Unavailable(message string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: message}
}

// HandlerFunc is an HTTP handler that returns its failure instead of writing it, so that
// every error is mapped to a status, recorded on the span and logged in one place.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f(w, r); err != nil {
		WriteError(w, r, err)
	}
}

// WriteError answers with the JSON error body. An *Error is the caller's fault and is
// answered as it says; a context deadline is a 504; anything else is a 500 whose details
// stay in the log and on the span, never in the response.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	span := trace.SpanFromContext(ctx)
	var e *Error
	switch {
	case errors.As(err, &e):
		span.SetAttributes(errorCodeKey.String(e.Code))
		if e.Status >= 500 {
			span.RecordError(err)
			span.SetStatus(codes.Error, e.Code)
			LoggerFrom(ctx).WarnContext(ctx, "request failed", "status", e.Status, "error", err)
		}
	case errors.Is(err, context.DeadlineExceeded):
		e = &Error{Status: http.StatusGatewayTimeout, Code: "timeout", Message: "the request took too long"}
		span.RecordError(err)
		span.SetStatus(codes.Error, "timeout")
		LoggerFrom(ctx).WarnContext(ctx, "request timed out", "error", err)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The client went away; nobody reads the answer. 499 as nginx counts it.
		e = &Error{Status: 499, Code: "client_closed_request", Message: "the client closed the request"}
	default:
		e = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		LoggerFrom(ctx).ErrorContext(ctx, "request failed", "error", err)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	WriteJSON(w, e.Status, errorBody{e})
}

type errorBody struct {
	Error *Error `json:"error"`
}

var errorCodeKey = attributeKey("shop.error.code")

type loggerKey struct{}

// WithLogger puts the service's logger in ctx for the error path to use.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// LoggerFrom returns the logger WithLogger stored, or slog's default.
func LoggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
