package users

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"
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
	store      store
	tokens     *auth.Tokens
	bcryptCost int
	tel        *telemetry.Telemetry
	tracer     trace.Tracer

	registrations metric.Int64Counter
	logins        metric.Int64Counter
	// dummyHash is compared against when the email is unknown, so a login takes as long
	// whether or not the account exists.
	dummyHash []byte
}

func newServer(st store, tokens *auth.Tokens, bcryptCost int, tel *telemetry.Telemetry) *server {
	meter := tel.Meter(scope)
	s := &server{store: st, tokens: tokens, bcryptCost: bcryptCost, tel: tel, tracer: tel.Tracer(scope)}
	s.registrations, _ = meter.Int64Counter("shop.users.registrations", metric.WithDescription("Accounts registered."))
	s.logins, _ = meter.Int64Counter("shop.users.logins", metric.WithDescription("Login attempts, by outcome."))
	s.dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a real password"), bcryptCost)
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
// and the flame graph of a slow registration should say so.
func (s *server) hash(ctx context.Context, password string) ([]byte, error) {
	_, span := s.tracer.Start(ctx, "bcrypt hash", trace.WithAttributes(attribute.Int("bcrypt.cost", s.bcryptCost)))
	defer span.End()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.bcryptCost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
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
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		req, err := httpx.Decode[loginRequest](r)
		if err != nil {
			return err
		}
		ctx := r.Context()
		u, err := s.store.byEmail(ctx, req.Email)
		if err != nil && !errors.Is(err, errNoUser) {
			return err
		}
		hash := s.dummyHash
		if err == nil {
			hash = []byte(u.PasswordHash)
		}
		_, span := s.tracer.Start(ctx, "bcrypt compare")
		mismatch := bcrypt.CompareHashAndPassword(hash, []byte(req.Password))
		span.End()
		if errors.Is(err, errNoUser) || mismatch != nil {
			s.logins.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "rejected")))
			return badCredentials
		}
		token, exp, err := s.tokens.Issue(u.ID)
		if err != nil {
			return err
		}
		s.logins.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "accepted")))
		trace.SpanFromContext(ctx).SetAttributes(attribute.String("enduser.id", u.ID))
		httpx.WriteJSON(w, http.StatusOK, loginResponse{Token: token, ExpiresAt: exp})
		return nil
	})
}

func (s *server) handleMe() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id, err := auth.UserID(r)
		if err != nil {
			return err
		}
		u, err := s.store.byID(r.Context(), id)
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
