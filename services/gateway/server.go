package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/ids"
	"github.com/otelshop/shop/services/orders"
	"github.com/otelshop/shop/telemetry"
)

type server struct {
	cfg         Config
	tokens      *auth.Tokens
	limiter     *limiter
	transport   http.RoundTripper
	orders      *orders.Client
	tel         *telemetry.Telemetry
	rateLimited metric.Int64Counter
	upstreams   map[string]*url.URL
}

func newServer(cfg Config, peers map[string]string, tel *telemetry.Telemetry) (*server, error) {
	tokens, err := auth.NewTokens(cfg.JWTSecret, 0)
	if err != nil {
		return nil, err
	}
	hc := tel.HTTPClient(0) // deadlines come from each request's context
	s := &server{cfg: cfg, tokens: tokens, transport: hc.Transport, orders: orders.NewClient(peers["orders"], hc), tel: tel,
		upstreams: map[string]*url.URL{}}
	for name, raw := range peers {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%s url %q is not an absolute URL", name, raw)
		}
		s.upstreams[name] = u
	}
	if cfg.RateLimit > 0 {
		s.limiter = newLimiter(cfg.RateLimit, max(cfg.RateBurst, 1))
	}
	s.rateLimited, _ = tel.Meter(scope).Int64Counter("shop.gateway.rate_limited",
		metric.WithDescription("Requests refused with 429 by the per-client rate limit."))
	return s, nil
}

// guard runs before routing: it replaces any identity a client claims for itself with
// the one its token proves (verified once, here, for the rate limit and the routes
// alike), and enforces the rate limit. It must not copy r (see telemetry.HTTPServer).
func (s *server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del(auth.UserHeader)
		userID, err := s.userFromToken(r)
		if err == nil {
			r.Header.Set(auth.UserHeader, userID)
		}
		if s.limiter != nil && strings.HasPrefix(r.URL.Path, "/api/") {
			client := clientAddr(r)
			if userID != "" {
				client = "user:" + userID
			}
			if ok, wait := s.limiter.allow(client, time.Now()); !ok {
				s.rateLimited.Add(r.Context(), 1)
				w.Header().Set("Retry-After", retryAfter(wait))
				httpx.WriteError(w, r, &httpx.Error{Status: http.StatusTooManyRequests, Code: "rate_limited",
					Message: "too many requests; retry after " + retryAfter(wait) + "s"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

var errNoToken = errors.New("no bearer token")

func (s *server) userFromToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		return "", errNoToken
	}
	return s.tokens.Verify(token)
}

// authenticated requires the identity guard proved and passes it on in the header
// the services read.
func (s *server) authenticated(next http.Handler) http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id := r.Header.Get(auth.UserHeader)
		if id == "" {
			// Verify again only to say what is wrong: this is the rare path.
			_, err := s.userFromToken(r)
			switch {
			case errors.Is(err, errNoToken):
				return httpx.Unauthorized("authentication required: send Authorization: Bearer <token>")
			case errors.Is(err, auth.ErrExpired):
				return &httpx.Error{Status: http.StatusUnauthorized, Code: "token_expired", Message: "the token has expired; log in again"}
			}
			return httpx.Unauthorized("invalid token")
		}
		trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("enduser.id", id))
		next.ServeHTTP(w, r)
		return nil
	})
}

// forward proxies to a service at the path to(r) gives, within timeout. The service's
// answer, errors included, passes through unchanged.
func (s *server) forward(service string, timeout time.Duration, to upstreamPath) http.Handler {
	target := s.upstreams[service]
	proxy := &httputil.ReverseProxy{
		Transport: s.transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = target.Scheme
			pr.Out.URL.Host = target.Host
			pr.Out.Host = target.Host
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				httpx.WriteError(w, r, errBodyTooLarge)
				return
			}
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(r.Context().Err(), context.DeadlineExceeded) {
				httpx.WriteError(w, r, fmt.Errorf("%s: %w", service, context.DeadlineExceeded))
				return
			}
			httpx.WriteError(w, r, &httpx.Error{Status: http.StatusBadGateway, Code: "upstream_unavailable",
				Message: service + " is unavailable; try again"})
			s.tel.Logger.WarnContext(r.Context(), "upstream failed", "upstream", service, "error", err)
		},
	}
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if r.ContentLength > httpx.MaxBodyBytes {
			return errBodyTooLarge // refused before any byte goes upstream
		}
		path, template, query, err := to(r)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		out := r.WithContext(telemetry.WithURLTemplate(ctx, template))
		u := *r.URL
		u.Path, u.RawPath = path, ""
		if query != "" {
			u.RawQuery = query
		}
		out.URL = &u
		proxy.ServeHTTP(w, out)
		return nil
	})
}

var errBodyTooLarge = &httpx.Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
	Message: fmt.Sprintf("the body must be at most %d bytes", httpx.MaxBodyBytes)}

// upstreamPath maps a gateway request to the service's path, that path's route
// template (for the client span's name) and, when it replaces the client's, a query.
type upstreamPath func(r *http.Request) (path, template, query string, err error)

// to maps a gateway route to a fixed service path.
func to(path string) upstreamPath {
	return func(*http.Request) (string, string, string, error) { return path, path, "", nil }
}

// withID maps a gateway route with a {name} to the service path prefix+{name}.
func withID(prefix, name string) upstreamPath {
	return func(r *http.Request) (string, string, string, error) {
		id := r.PathValue(name)
		if id == "" || len(id) > 64 {
			return "", "", "", httpx.Invalid(name, "must be 1 to 64 characters")
		}
		return prefix + url.PathEscape(id), prefix + "{" + name + "}", "", nil
	}
}

// shipmentOf checks the order is the user's before asking shipping about it.
func (s *server) shipmentOf(r *http.Request) (string, string, string, error) {
	orderID, ok := ids.UUID(r.PathValue("id"))
	if !ok {
		return "", "", "", httpx.Invalid("id", "must be an order id")
	}
	if _, err := s.orders.Get(r.Context(), r.Header.Get(auth.UserHeader), orderID); err != nil {
		return "", "", "", err
	}
	return "/v1/shipments", "/v1/shipments", "order_id=" + orderID, nil
}
