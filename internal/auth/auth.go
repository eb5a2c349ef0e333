// Package auth issues and verifies the shop's access tokens: HS256 JWTs (golang-jwt)
// whose subject is the user id. Users issues them; the gateway verifies them and passes
// the user id on to the services in UserHeader.
package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/otelshop/shop/internal/service"
)

// UserHeader carries the authenticated user id from the gateway to the services behind
// it. The gateway strips any such header a client sends.
const UserHeader = "X-Shop-User-Id"

const (
	issuer   = "shop-users"
	audience = "shop"
)

// Tokens signs and verifies tokens with one shared secret.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewTokens returns Tokens for secret; issued tokens live for ttl.
func NewTokens(secret string, ttl time.Duration) (*Tokens, error) {
	if len(secret) < 16 {
		return nil, errors.New("auth: the JWT secret must be at least 16 bytes")
	}
	return &Tokens{secret: []byte(secret), ttl: ttl, now: time.Now}, nil
}

// Issue returns a signed token for userID and when it expires.
func (t *Tokens) Issue(userID string) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject:   userID,
		Issuer:    issuer,
		Audience:  jwt.ClaimStrings{audience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	})
	signed, err := tok.SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return signed, exp, nil
}

// ErrExpired is returned for a well-formed token past its expiry.
var ErrExpired = errors.New("token expired")

// Verify returns the user id of a valid token.
func (t *Tokens) Verify(token string) (string, error) {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if errors.Is(err, jwt.ErrTokenExpired) {
		return "", ErrExpired
	}
	if err != nil {
		return "", fmt.Errorf("invalid token: %w", err)
	}
	if claims.Subject == "" {
		return "", errors.New("invalid token: no subject")
	}
	return claims.Subject, nil
}

// devSecret lets `shop all` run with nothing set; users logs a warning while it is in use.
const devSecret = "development-only-secret-change-me"

// Secret reads JWT_SECRET, the secret users signs with and the gateway verifies with.
func Secret(env *service.Env) string { return env.String("JWT_SECRET", devSecret) }

// IsDevSecret says whether the development secret is in use.
func IsDevSecret(secret string) bool { return secret == devSecret }
