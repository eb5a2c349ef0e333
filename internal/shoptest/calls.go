package shoptest

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/httpx"
)

// Direct returns a client of one internal service's own API, bypassing the
// gateway, with no credentials: what an attacker on the network has.
func (s *Shop) Direct(t testing.TB, service string) *Client {
	t.Helper()
	base, ok := s.URL[service]
	if !ok {
		t.Fatalf("no HTTP service %q", service)
	}
	return &Client{t: t, base: base, http: &http.Client{Timeout: 30 * time.Second}}
}

// CallAs calls an internal service with the credential of the named caller
// ("" for none).
func (s *Shop) CallAs(t testing.TB, caller, service, method, path string, body any) Response {
	t.Helper()
	header := http.Header{}
	if caller != "" {
		if err := s.Credentials(t, caller).Authorize(context.Background(), header); err != nil {
			t.Fatalf("credentials of %s: %v", caller, err)
		}
	}
	return s.Direct(t, service).Do(method, path, body, header)
}

// AdminCall calls an internal service with an operator's credential.
func (s *Shop) AdminCall(t testing.TB, service, method, path string, body any) Response {
	t.Helper()
	return s.CallAs(t, "admin", service, method, path, body)
}

// GrepRepository lists the tracked files of the repository that contain text.
func GrepRepository(t testing.TB, text string) []string {
	t.Helper()
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("find the repository: %v", err)
	}
	top := strings.TrimSpace(string(root))
	list, err := exec.Command("git", "-C", top, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("list the repository's files: %v", err)
	}
	var hits []string
	for _, name := range strings.Split(string(list), "\x00") {
		if name == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(top, name))
		if err == nil && strings.Contains(string(data), text) {
			hits = append(hits, name)
		}
	}
	return hits
}

// API returns a JSON client of an internal service calling with the credentials
// of client (a service, or auth.AdminClient).
func (s *Shop) API(t testing.TB, service, client string) httpx.Client {
	t.Helper()
	return httpx.Client{BaseURL: s.URL[service], HTTP: http.DefaultClient, Authorize: s.Credentials(t, client).Authorize}
}

// ExpiredUserToken is an access token of userID, signed with users' current key,
// that expired a minute ago: what a shopper holds after the token's lifetime.
func (s *Shop) ExpiredUserToken(t testing.TB, userID string) string {
	t.Helper()
	var kid string
	var seed []byte
	if err := s.Connect(t, "users").QueryRow(context.Background(),
		`SELECT kid, seed FROM signing_keys ORDER BY created_at DESC LIMIT 1`).Scan(&kid, &seed); err != nil {
		t.Fatalf("users' signing key: %v", err)
	}
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, auth.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Subject: userID, Issuer: auth.Issuer, Audience: jwt.ClaimStrings{auth.UserAudience},
		IssuedAt: jwt.NewNumericDate(now.Add(-time.Hour)), ExpiresAt: jwt.NewNumericDate(now.Add(-time.Minute)),
	}})
	tok.Header["kid"] = kid
	signed, err := tok.SignedString(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return signed
}
