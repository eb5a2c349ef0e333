package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/httpx"
)

// UserTokenHeader carries the end user's access token on a call a service makes
// for that user. It is verified like any token; nothing in it is taken on trust.
const UserTokenHeader = "X-Shop-User-Token"

type userKey struct{}
type callerKey struct{}

// WithUser puts a verified end user in ctx; the services' clients pass the user's
// token on from there.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the verified end user of the request in ctx.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}

// CallerFrom returns the verified calling service of the request in ctx.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// BearerToken returns the token of an "Authorization: Bearer" header, or "".
func BearerToken(h http.Header) string {
	token, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(token)
}

// Guard lets requests in by the credentials their route asks for.
type Guard struct{ Verifier *Verifier }

// Callers lets a route in for a service token holding one of roles.
func (g Guard) Callers(roles ...string) func(http.Handler) http.Handler {
	return g.guard(roles, false)
}

// ForUser lets a route in for a service token holding one of roles that acts for
// a verified end user; the user is in the request's context (UserFrom).
func (g Guard) ForUser(roles ...string) func(http.Handler) http.Handler {
	return g.guard(roles, true)
}

func (g Guard) guard(roles []string, forUser bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			caller, err := g.Verifier.Service(BearerToken(r.Header))
			if err != nil {
				return unauthorized("caller", err)
			}
			if !caller.Has(roles...) {
				return &httpx.Error{Status: http.StatusForbidden, Code: "forbidden",
					Message: caller.Name + " may not call this"}
			}
			ctx := context.WithValue(r.Context(), callerKey{}, caller)
			if forUser {
				u, err := g.Verifier.User(r.Header.Get(UserTokenHeader))
				if err != nil {
					return unauthorized("user", err)
				}
				trace.SpanFromContext(ctx).SetAttributes(attribute.String("enduser.id", u.ID))
				ctx = WithUser(ctx, u)
			}
			// Mutating r keeps r.Pattern visible to the telemetry middleware outside.
			*r = *r.WithContext(ctx)
			next.ServeHTTP(w, r)
			return nil
		})
	}
}

// unauthorized answers a missing or bad credential of whom ("caller", "user").
func unauthorized(whom string, err error) *httpx.Error {
	switch {
	case errors.Is(err, ErrNoToken):
		return httpx.Unauthorized("authentication required: no " + whom + " token")
	case errors.Is(err, ErrExpired):
		return &httpx.Error{Status: http.StatusUnauthorized, Code: "token_expired", Message: "the " + whom + " token has expired"}
	}
	return httpx.Unauthorized("invalid " + whom + " token")
}
