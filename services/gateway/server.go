package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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
	"github.com/otelshop/shop/services/gateway/storefront"
	"github.com/otelshop/shop/telemetry"
)

type server struct {
	cfg         Config
	identity    auth.Guard        // verifies shoppers' tokens
	creds       *auth.Credentials // the gateway's own, presented upstream
	limiter     *limiter          // every /api/ request, per client
	logins      *limiter          // registrations and logins, per address
	traces      *limiter          // browsers' spans (POST /otlp/v1/traces), per address
	transport   http.RoundTripper
	tel         *telemetry.Telemetry
	rateLimited metric.Int64Counter
	upstreams   map[string]*url.URL

	collector    *url.URL            // the collector's OTLP/HTTP traces endpoint
	browserSpans metric.Int64Counter // what became of the browsers' spans
}

func newServer(cfg Config, peers map[string]string, identity auth.Guard, creds *auth.Credentials, tel *telemetry.Telemetry) (*server, error) {
	hc := tel.HTTPClient(0) // deadlines come from each request's context
	s := &server{cfg: cfg, identity: identity, creds: creds, transport: hc.Transport, tel: tel, upstreams: map[string]*url.URL{}}
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
	if cfg.LoginRateLimit > 0 {
		s.logins = newLimiter(cfg.LoginRateLimit, max(cfg.LoginRateBurst, 1))
	}
	if cfg.TracesRateLimit > 0 {
		s.traces = newLimiter(cfg.TracesRateLimit, max(cfg.TracesRateBurst, 1))
	}
	s.rateLimited, _ = tel.Meter(scope).Int64Counter("shop.gateway.rate_limited",
		metric.WithDescription("Requests refused with 429 by the per-client rate limits."))
	if err := s.startTraces(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

type shopperKey struct{}

// guard runs before routing: it drops whatever identity a client sends besides its
// token, verifies the token once (for the rate limit and the routes alike), and
// enforces the rate limits. It must not copy r (see telemetry.HTTPServer).
func (s *server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del(auth.UserTokenHeader)
		r.Header.Del("X-Shop-User-Id") // a header the services once believed; now nobody does
		token := auth.BearerToken(r.Header)
		if token == "" {
			// The storefront's session cookie, where it counts (storefront.SessionToken);
			// when it does not, the request is anonymous and a route that needs a
			// shopper says why.
			var refused error
			if token, refused = storefront.SessionToken(r); refused != nil {
				*r = *r.WithContext(context.WithValue(r.Context(), shopperKey{}, refused))
			}
		}
		user, err := s.identity.Verifier.User(token)
		client := "addr:" + clientAddr(r)
		if err == nil {
			client = "user:" + user.ID
			*r = *r.WithContext(auth.WithUser(r.Context(), user))
		} else if token != "" {
			*r = *r.WithContext(context.WithValue(r.Context(), shopperKey{}, err))
		}
		if r.URL.Path == "/api/users/login" || r.URL.Path == "/api/users/register" {
			// Password checks are the costly, guessable door: bounded per address
			// whoever the client says it is.
			if !s.allow(w, r, s.logins, "addr:"+clientAddr(r)) {
				return
			}
		}
		if strings.HasPrefix(r.URL.Path, "/otlp/") {
			// Anyone may send spans, so they are bounded per address, whoever the
			// client says it is, before they cost a decode.
			if !s.allow(w, r, s.traces, "addr:"+clientAddr(r)) {
				return
			}
		}
		if !s.allow(w, r, s.limiter, client) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allow takes a token from client's bucket of l, or answers 429.
func (s *server) allow(w http.ResponseWriter, r *http.Request, l *limiter, client string) bool {
	if l == nil {
		return true
	}
	ok, wait := l.allow(r.Context(), client, time.Now())
	if !ok {
		s.rateLimited.Add(r.Context(), 1)
		w.Header().Set("Retry-After", retryAfter(wait))
		httpx.WriteError(w, r, &httpx.Error{Status: http.StatusTooManyRequests, Code: "rate_limited",
			Message: "too many requests; retry after " + retryAfter(wait) + "s"})
	}
	return ok
}

// authenticated requires the shopper guard verified.
func (s *server) authenticated(next http.Handler) http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		u, ok := auth.UserFrom(r.Context())
		if !ok {
			err, _ := r.Context().Value(shopperKey{}).(error)
			var refused *httpx.Error
			switch {
			case err == nil:
				return httpx.Unauthorized("authentication required: send Authorization: Bearer <token>")
			case errors.As(err, &refused): // a session cookie that did not count, and why
				return refused
			case errors.Is(err, auth.ErrExpired):
				return &httpx.Error{Status: http.StatusUnauthorized, Code: "token_expired", Message: "the token has expired; log in again"}
			}
			return httpx.Unauthorized("invalid token")
		}
		trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("enduser.id", u.ID))
		next.ServeHTTP(w, r)
		return nil
	})
}

// forward proxies to a service at the path to(r) gives, within timeout, with the
// gateway's own credentials and, for a shopper, the shopper's token. The service's
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
		body, err := s.readBody(w, r)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		out := r.WithContext(telemetry.WithURLTemplate(ctx, template))
		out.Header = r.Header.Clone()
		out.Header.Del("Authorization")
		out.Header.Del("Cookie") // the session cookie holds the shopper's token: it goes as the user token only
		if err := s.creds.Authorize(ctx, out.Header); err != nil {
			return fmt.Errorf("%s: %w", service, errors.Join(err, errIdentityUnavailable))
		}
		if body != nil {
			out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}
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

var (
	errBodyTooLarge = &httpx.Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
		Message: fmt.Sprintf("the body must be at most %d bytes", httpx.MaxBodyBytes)}
	errBodyTooSlow = &httpx.Error{Status: http.StatusRequestTimeout, Code: "request_timeout",
		Message: "the request body did not arrive in time"}
	errIdentityUnavailable = httpx.Unavailable("the shop cannot prove its identity to its services now; try again")
)

// readBody reads the whole request body within BodyTimeout before anything goes
// upstream: a client that trickles its body in ties up only the gateway, and is
// told so (408), instead of holding a service's request open until it times out.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
	body, err := io.ReadAll(r.Body)
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooLarge):
		return nil, errBodyTooLarge
	case errors.As(err, &netErr) && netErr.Timeout():
		// The connection cannot carry another request after a failed read.
		w.Header().Set("Connection", "close")
		return nil, errBodyTooSlow
	case err != nil:
		return nil, httpx.BadRequest("bad_body", "the request body could not be read")
	}
	return body, nil
}

// upstreamPath maps a gateway request to the service's path, that path's route
// template (for the client span's name) and, when it replaces the client's, a query.
type upstreamPath func(r *http.Request) (path, template, query string, err error)

// to maps a gateway route to a fixed service path.
func to(path string) upstreamPath {
	return func(*http.Request) (string, string, string, error) { return path, path, "", nil }
}

// withProductID maps a gateway route with a {name} product id to prefix+{name}.
func withProductID(prefix, name string) upstreamPath {
	return func(r *http.Request) (string, string, string, error) {
		id := r.PathValue(name)
		if !ids.Product(id) {
			return "", "", "", httpx.Invalid(name, "must be a product id such as SKU-00042")
		}
		return prefix + id, prefix + "{" + name + "}", "", nil
	}
}

// withOrderID maps a gateway route with an {id} order id to prefix+{id}.
func withOrderID(prefix string) upstreamPath {
	return func(r *http.Request) (string, string, string, error) {
		id, ok := ids.UUID(r.PathValue("id"))
		if !ok {
			return "", "", "", httpx.Invalid("id", "must be an order id")
		}
		return prefix + id, prefix + "{id}", "", nil
	}
}

// shipmentOf asks shipping for the order's shipment; shipping answers only the
// order's owner.
func shipmentOf(r *http.Request) (string, string, string, error) {
	orderID, ok := ids.UUID(r.PathValue("id"))
	if !ok {
		return "", "", "", httpx.Invalid("id", "must be an order id")
	}
	return "/v1/shipments", "/v1/shipments", "order_id=" + orderID, nil
}
