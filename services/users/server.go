package users

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/mail"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/crypto/bcrypt"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/telemetry"
)

type server struct {
	store   store
	keys    *keyring
	clients *clients
	auth    auth.Guard
	limits  throttle
	hashers *hashers
	cfg     Config
	tel     *telemetry.Telemetry
	tracer  trace.Tracer

	registrations metric.Int64Counter
	logins        metric.Int64Counter
	tokensIssued  metric.Int64Counter
	// dummyHash is compared against when the email is unknown, so a login takes as long
	// whether or not the account exists.
	dummyHash []byte
}

func newServer(st store, keys *keyring, cl *clients, guard auth.Guard, cfg Config, tel *telemetry.Telemetry) *server {
	meter := tel.Meter(scope)
	s := &server{store: st, keys: keys, clients: cl, auth: guard, limits: throttle{st.db}, cfg: cfg, tel: tel, tracer: tel.Tracer(scope)}
	s.registrations, _ = meter.Int64Counter("shop.users.registrations", metric.WithDescription("Accounts registered."))
	s.logins, _ = meter.Int64Counter("shop.users.logins", metric.WithDescription("Login attempts, by outcome (accepted, rejected, locked)."))
	s.tokensIssued, _ = meter.Int64Counter("shop.users.service_tokens", metric.WithDescription("Service tokens issued, by outcome (issued, refused)."))
	start := time.Now()
	s.dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a real password"), cfg.BcryptCost)
	s.hashers = newHashers(cfg.BcryptWorkers, cfg.BcryptCPUShare, runtime.GOMAXPROCS(0), time.Since(start))
	return s
}

type registerRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

func (r *registerRequest) Validate() error {
	r.Email = strings.TrimSpace(r.Email)
	r.Name = strings.TrimSpace(r.Name)
	if strings.ContainsFunc(r.Name, unicode.IsControl) {
		return httpx.Invalid("name", "must not contain control characters")
	}
	if err := validateEmail(r.Email); err != nil {
		return err
	}
	// bcrypt reads at most 72 bytes; a longer password would be silently truncated.
	if n := len(r.Password); n < 8 || n > 72 {
		return httpx.Invalid("password", "must be 8 to 72 bytes long")
	}
	if n := utf8.RuneCountInString(r.Name); n < 1 || n > 100 {
		return httpx.Invalid("name", "must be 1 to 100 characters long")
	}
	return nil
}

func validateEmail(email string) error {
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 {
		return httpx.Invalid("email", "must be a valid email address")
	}
	return nil
}

func (s *server) handleRegister() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		req, err := httpx.Decode[registerRequest](r)
		if err != nil {
			return err
		}
		hash, err := s.hash(r.Context(), req.Password)
		if err != nil {
			return err
		}
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("new user id: %w", err)
		}
		u, err := s.store.create(r.Context(), User{ID: id.String(), Email: req.Email, Name: req.Name, PasswordHash: string(hash)})
		if errors.Is(err, errEmailTaken) {
			return httpx.Conflict("email_taken", "an account with this email exists")
		}
		if err != nil {
			return err
		}
		s.registrations.Add(r.Context(), 1)
		trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("enduser.id", u.ID))
		s.tel.Logger.InfoContext(r.Context(), "user registered", "user_id", u.ID)
		httpx.WriteJSON(w, http.StatusCreated, u)
		return nil
	})
}

// hash runs bcrypt in a span of its own: it is the most expensive thing users does,
// and the flame graph of a slow registration should say so. It waits its turn
// among the hashers.
func (s *server) hash(ctx context.Context, password string) ([]byte, error) {
	_, span := s.tracer.Start(ctx, "bcrypt hash", trace.WithAttributes(attribute.Int("bcrypt.cost", s.cfg.BcryptCost)))
	defer span.End()
	var hash []byte
	var err error
	if werr := s.hashers.do(ctx, func() { hash, err = bcrypt.GenerateFromPassword([]byte(password), s.cfg.BcryptCost) }); werr != nil {
		return nil, busy(werr)
	}
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// compare checks a password against a hash, in its turn among the hashers.
func (s *server) compare(ctx context.Context, hash []byte, password string) (bool, error) {
	_, span := s.tracer.Start(ctx, "bcrypt compare")
	defer span.End()
	var mismatch error
	if err := s.hashers.do(ctx, func() { mismatch = bcrypt.CompareHashAndPassword(hash, []byte(password)) }); err != nil {
		return false, busy(err)
	}
	return mismatch == nil, nil
}

// busy turns a refused turn into a 503 the client may retry.
func busy(err error) error {
	if errors.Is(err, errBusy) {
		return &httpx.Error{Status: http.StatusServiceUnavailable, Code: "busy", Message: "too many logins at once; retry in a moment",
			RetryAfter: time.Second}
	}
	return err
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (r *loginRequest) Validate() error {
	r.Email = strings.TrimSpace(r.Email)
	if err := validateEmail(r.Email); err != nil {
		return err
	}
	if r.Password == "" || len(r.Password) > 72 {
		return httpx.Invalid("password", "must be 1 to 72 bytes long")
	}
	return nil
}

type loginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *server) handleLogin() http.Handler {
	badCredentials := httpx.Unauthorized("wrong email or password")
	outcome := func(o string) metric.AddOption { return metric.WithAttributes(attribute.String("outcome", o)) }
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		req, err := httpx.Decode[loginRequest](r)
		if err != nil {
			return err
		}
		ctx := r.Context()
		if s.hashers.saturated() {
			return busy(errBusy)
		}
		// A locked account costs a query, not a bcrypt.
		if wait, err := s.limits.lockedFor(ctx, req.Email); err != nil {
			return err
		} else if wait > 0 {
			s.logins.Add(ctx, 1, outcome("locked"))
			secs := strconv.Itoa(int(math.Ceil(wait.Seconds())))
			w.Header().Set("Retry-After", secs)
			return &httpx.Error{Status: http.StatusTooManyRequests, Code: "too_many_attempts",
				Message: "too many wrong passwords for this account; retry after " + secs + "s"}
		}
		u, err := s.store.byEmail(ctx, req.Email)
		if err != nil && !errors.Is(err, errNoUser) {
			return err
		}
		hash := s.dummyHash
		if err == nil {
			hash = []byte(u.PasswordHash)
		}
		match, cerr := s.compare(ctx, hash, req.Password)
		if cerr != nil {
			return cerr
		}
		if errors.Is(err, errNoUser) || !match {
			s.logins.Add(ctx, 1, outcome("rejected"))
			if err := s.limits.failed(context.WithoutCancel(ctx), req.Email); err != nil {
				return err
			}
			return badCredentials
		}
		if err := s.limits.succeeded(ctx, req.Email); err != nil {
			return err
		}
		token, exp, err := s.keys.current().UserToken(u.ID, s.cfg.TokenTTL)
		if err != nil {
			return err
		}
		s.logins.Add(ctx, 1, outcome("accepted"))
		trace.SpanFromContext(ctx).SetAttributes(attribute.String("enduser.id", u.ID))
		httpx.WriteJSON(w, http.StatusOK, loginResponse{Token: token, ExpiresAt: exp})
		return nil
	})
}

func (s *server) handleMe() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		caller, _ := auth.UserFrom(r.Context())
		u, err := s.store.byID(r.Context(), caller.ID)
		if errors.Is(err, errNoUser) {
			return httpx.NotFound("user")
		}
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, u)
		return nil
	})
}

// handleJWKS publishes the public keys every service verifies tokens with.
func (s *server) handleJWKS() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		doc, err := s.keys.published.JSON(r.Context())
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "max-age=300")
		_, _ = w.Write(doc)
		return nil
	})
}

// handleToken issues a service its token: OAuth 2.0 client credentials, the
// client authenticated by its secret (HTTP Basic).
func (s *server) handleToken() http.Handler {
	issued := metric.WithAttributes(attribute.String("outcome", "issued"))
	refused := metric.WithAttributes(attribute.String("outcome", "refused"))
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		client, secret, ok := r.BasicAuth()
		if !ok || r.PostFormValue("grant_type") != "client_credentials" {
			s.tokensIssued.Add(ctx, 1, refused)
			return httpx.BadRequest("invalid_request", "send grant_type=client_credentials with the client's id and secret (HTTP Basic)")
		}
		if !s.clients.check(client, secret) {
			s.tokensIssued.Add(ctx, 1, refused)
			w.Header().Set("WWW-Authenticate", `Basic realm="shop"`)
			return &httpx.Error{Status: http.StatusUnauthorized, Code: "invalid_client", Message: "unknown client or wrong secret"}
		}
		token, exp, err := s.keys.current().ServiceToken(client, auth.RolesOf(client), auth.ServiceTokenTTL)
		if err != nil {
			return err
		}
		s.tokensIssued.Add(ctx, 1, issued)
		w.Header().Set("Cache-Control", "no-store")
		httpx.WriteJSON(w, http.StatusOK, auth.TokenResponse{AccessToken: token, TokenType: "Bearer",
			ExpiresIn: int(time.Until(exp).Seconds())})
		return nil
	})
}
