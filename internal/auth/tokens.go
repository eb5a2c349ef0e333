// Package auth is the shop's identity: the access tokens users issues (EdDSA JWTs
// signed with keys it keeps in its own database and publishes as a JWKS), their
// verification by every service against those published keys, the service tokens
// each service obtains with its own client secret, and the guards that let a
// request or an RPC in only with the credentials its route asks for.
//
// Two tokens travel with a call between services: the caller's own service token
// in Authorization, and, when it acts for an end user, that user's access token in
// X-Shop-User-Token. No service reads an identity from anything but a verified token.
package auth

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/otelshop/shop/internal/ids"
)

// Who issues the tokens and for whom.
const (
	Issuer          = "shop-users"
	UserAudience    = "shop"          // end users' access tokens
	ServiceAudience = "shop-internal" // services' tokens, for calls between services
	servicePrefix   = "service:"      // the subject of a service token: service:<client>
)

// RoleAdmin is the role of operators: provider settings, catalog writes, stock.
// Only the admin client's tokens carry it; end-user tokens carry no role at all.
const RoleAdmin = "admin"

// Claims are what the shop's tokens say.
type Claims struct {
	jwt.RegisteredClaims
	Roles []string `json:"roles,omitempty"`
}

// Errors a caller is told apart from "invalid".
var (
	ErrExpired  = errors.New("token expired")
	ErrNoToken  = errors.New("no token")
	ErrNotAllow = errors.New("not allowed")
)

// Signer issues tokens with one private key, named by its key id.
type Signer struct {
	KeyID string
	Key   ed25519.PrivateKey
	now   func() time.Time
}

// NewSigner returns a signer for key, published under keyID.
func NewSigner(keyID string, key ed25519.PrivateKey) *Signer {
	return &Signer{KeyID: keyID, Key: key, now: time.Now}
}

func (s *Signer) sign(subject, audience string, roles []string, ttl time.Duration) (string, time.Time, error) {
	now := s.now()
	exp := now.Add(ttl)
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   subject,
			Issuer:    Issuer,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		Roles: roles,
	})
	tok.Header["kid"] = s.KeyID
	signed, err := tok.SignedString(s.Key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return signed, exp, nil
}

// UserToken issues an end user's access token.
func (s *Signer) UserToken(userID string, ttl time.Duration) (string, time.Time, error) {
	return s.sign(userID, UserAudience, nil, ttl)
}

// ServiceToken issues a service's token for calls to other services.
func (s *Signer) ServiceToken(client string, roles []string, ttl time.Duration) (string, time.Time, error) {
	return s.sign(servicePrefix+client, ServiceAudience, roles, ttl)
}

// User is an end user a verified token names.
type User struct {
	ID    string
	Token string // the token itself, passed on when a service calls another for the user
}

// Caller is a service (or the operators' admin client) a verified token names.
type Caller struct {
	Name  string
	Roles []string
}

// Has says whether the caller holds one of roles.
func (c Caller) Has(roles ...string) bool {
	return slices.ContainsFunc(roles, func(r string) bool { return slices.Contains(c.Roles, r) })
}

// Verifier checks tokens against the issuer's keys (a JWKS, see RemoteKeys).
// Verified tokens are remembered until they expire, so a token presented again,
// as a service's is on every call, costs a map look-up instead of a signature
// check.
type Verifier struct {
	keys jwt.Keyfunc
	now  func() time.Time

	mu    sync.Mutex
	known map[[32]byte]verified
}

type verified struct {
	claims  Claims
	expires time.Time
}

// maxKnownTokens bounds the memory of verified tokens, whatever tokens an
// attacker sends: only valid ones are remembered, and at most this many.
const maxKnownTokens = 20_000

// NewVerifier returns a verifier whose keys come from keys.
func NewVerifier(keys jwt.Keyfunc) *Verifier {
	return &Verifier{keys: keys, now: time.Now, known: map[[32]byte]verified{}}
}

func (v *Verifier) verify(token, audience string) (Claims, error) {
	if token == "" {
		return Claims{}, ErrNoToken
	}
	key := sha256.Sum256([]byte(token))
	now := v.now()
	v.mu.Lock()
	hit, ok := v.known[key]
	v.mu.Unlock()
	if !ok {
		var claims Claims
		_, err := jwt.ParseWithClaims(token, &claims, v.keys,
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithIssuer(Issuer),
			jwt.WithExpirationRequired(),
			jwt.WithTimeFunc(v.now),
		)
		switch {
		case errors.Is(err, jwt.ErrTokenExpired):
			return Claims{}, ErrExpired
		case err != nil:
			return Claims{}, fmt.Errorf("invalid token: %w", err)
		}
		hit = verified{claims: claims, expires: claims.ExpiresAt.Time}
		v.remember(key, hit, now)
	}
	if !now.Before(hit.expires) {
		return Claims{}, ErrExpired
	}
	if !slices.Contains(hit.claims.Audience, audience) {
		return Claims{}, fmt.Errorf("invalid token: not for %s", audience)
	}
	return hit.claims, nil
}

func (v *Verifier) remember(key [32]byte, hit verified, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.known) >= maxKnownTokens {
		for k, e := range v.known {
			if !now.Before(e.expires) {
				delete(v.known, k)
			}
		}
		if len(v.known) >= maxKnownTokens {
			clear(v.known) // all still valid: start again rather than grow
		}
	}
	v.known[key] = hit
}

// User verifies an end user's access token.
func (v *Verifier) User(token string) (User, error) {
	claims, err := v.verify(token, UserAudience)
	if err != nil {
		return User{}, err
	}
	id, ok := ids.UUID(claims.Subject)
	if !ok || len(claims.Roles) > 0 {
		return User{}, errors.New("invalid token: not an end user's")
	}
	return User{ID: id, Token: token}, nil
}

// Service verifies a service's token.
func (v *Verifier) Service(token string) (Caller, error) {
	claims, err := v.verify(token, ServiceAudience)
	if err != nil {
		return Caller{}, err
	}
	name, ok := strings.CutPrefix(claims.Subject, servicePrefix)
	if !ok || name == "" {
		return Caller{}, errors.New("invalid token: not a service's")
	}
	return Caller{Name: name, Roles: claims.Roles}, nil
}
