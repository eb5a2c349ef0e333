package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// TokenPath is users' token endpoint: OAuth 2.0 client credentials (RFC 6749
// §4.4), the client authenticated with HTTP Basic.
const TokenPath = "/v1/tokens"

// ServiceTokenTTL is how long a service token lasts.
const ServiceTokenTTL = 15 * time.Minute

// TokenResponse is the token endpoint's answer.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// TokenSource hands out a service's token, fetching a new one when a third of
// the last one's life is left; one fetch at a time.
type TokenSource struct {
	fetch func(ctx context.Context) (string, time.Time, error)
	now   func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
	renewAt time.Time
}

// Token returns a token valid for a while yet.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Before(s.renewAt) {
		return s.token, nil
	}
	token, expires, err := s.fetch(ctx)
	if err != nil {
		if s.token != "" && now.Before(s.expires) {
			return s.token, nil // the old one still works; try again on the next call
		}
		return "", fmt.Errorf("service token: %w", err)
	}
	s.token, s.expires = token, expires
	s.renewAt = expires.Add(-expires.Sub(now) / 3)
	return token, nil
}

// LocalTokens issues the service's tokens itself (users, which holds the key).
func LocalTokens(client string, sign func(client string, roles []string, ttl time.Duration) (string, time.Time, error)) *TokenSource {
	return &TokenSource{now: time.Now, fetch: func(context.Context) (string, time.Time, error) {
		return sign(client, RolesOf(client), ServiceTokenTTL)
	}}
}

// RemoteTokens obtains the client's tokens from users' token endpoint.
func RemoteTokens(usersURL, client, secret string, hc *http.Client) *TokenSource {
	return &TokenSource{now: time.Now, fetch: func(ctx context.Context) (string, time.Time, error) {
		form := url.Values{"grant_type": {"client_credentials"}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, usersURL+TokenPath, strings.NewReader(form.Encode()))
		if err != nil {
			return "", time.Time{}, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(client, secret)
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return "", time.Time{}, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode != http.StatusOK {
			return "", time.Time{}, fmt.Errorf("token endpoint answered %d: %.200s", resp.StatusCode, body)
		}
		var tr TokenResponse
		if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" || tr.ExpiresIn <= 0 {
			return "", time.Time{}, errors.New("token endpoint answered without a token")
		}
		return tr.AccessToken, start.Add(time.Duration(tr.ExpiresIn) * time.Second), nil
	}}
}

// Credentials are what a service presents when it calls another: its own token,
// and the end user's when it acts for one (the user in the request's context).
type Credentials struct {
	Client string
	Tokens *TokenSource
}

// Authorize adds the credentials to an outgoing request's headers.
func (c *Credentials) Authorize(ctx context.Context, h http.Header) error {
	token, err := c.Tokens.Token(ctx)
	if err != nil {
		return err
	}
	h.Set("Authorization", "Bearer "+token)
	if u, ok := UserFrom(ctx); ok {
		h.Set(UserTokenHeader, u.Token)
	}
	return nil
}

// GetRequestMetadata makes Credentials gRPC per-call credentials.
func (c *Credentials) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	token, err := c.Tokens.Token(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + token}, nil
}

// RequireTransportSecurity is false: the shop's calls run on a network of its own
// (compose, a Kubernetes namespace); a mesh's mTLS encrypts them in production.
func (c *Credentials) RequireTransportSecurity() bool { return false }
