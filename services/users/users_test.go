package users_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/otelshop/shop/internal/shoptest"
)

// Only a bcrypt hash of the password is stored, no answer carries it, and an
// email is one account whatever its case.
func TestUsers_PasswordsHashedEmailsCaseInsensitive(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	c := s.NewShopper(t)
	anon := s.Anonymous(t)

	var stored string
	db := s.Connect(t, "users")
	if err := db.QueryRow(context.Background(), `SELECT password_hash FROM users WHERE email = $1`, c.Email).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, c.Password) {
		t.Fatal("the stored password hash contains the password")
	}
	if err := bcrypt.CompareHashAndPassword([]byte(stored), []byte(c.Password)); err != nil {
		t.Errorf("stored hash is not a bcrypt hash of the password: %v", err)
	}

	me := c.Do("GET", "/api/users/me", nil, nil)
	if me.Status != http.StatusOK {
		t.Fatalf("me: %d %s", me.Status, me.Body)
	}
	for _, secret := range [][]byte{[]byte(c.Password), []byte(stored), []byte("password")} {
		if bytes.Contains(me.Body, secret) {
			t.Errorf("the profile %s carries %q", me.Body, secret)
		}
	}

	upper := strings.ToUpper(c.Email)
	r := anon.Do("POST", "/api/users/register", map[string]string{"email": upper, "password": "another-password", "name": "Twin"}, nil)
	if r.Status != http.StatusConflict || r.Error.Code != "email_taken" {
		t.Errorf("registering %s again in upper case: %d %s, want 409 email_taken", upper, r.Status, r.Body)
	}
	r = anon.Do("POST", "/api/users/login", map[string]string{"email": upper, "password": c.Password}, nil)
	if r.Status != http.StatusOK || bytes.Contains(r.Body, []byte(c.Password)) {
		t.Errorf("login with the email in upper case: %d %s", r.Status, r.Body)
	}
}

// Of many registrations of one email racing each other exactly one succeeds;
// the rest are told the email is taken, none gets a 500.
func TestUsers_ConcurrentRegistrationsOneAccount(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	anon := s.Anonymous(t)
	email := "race-" + strings.ReplaceAll(t.Name(), "/", "-") + "@example.com"

	counts := shoptest.Concurrently(12, func(int) shoptest.Response {
		return anon.Do("POST", "/api/users/register", map[string]string{"email": email, "password": "long-enough-pw", "name": "Racer"}, nil)
	})
	if counts[http.StatusCreated] != 1 || counts[http.StatusConflict] != 11 {
		t.Errorf("12 registrations of one email: answers %v, want 1 × 201 and 11 × 409", counts)
	}
	var n int
	if err := s.Connect(t, "users").QueryRow(context.Background(), `SELECT count(*) FROM users WHERE lower(email) = lower($1)`, email).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d accounts for %s, want 1", n, email)
	}
}

// A token stops working when it expires: 401 token_expired, so a client knows to
// log in again.
func TestUsers_TokenExpires(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{Env: map[string]string{"TOKEN_TTL": "2s"}})
	c := s.NewShopper(t)
	var login struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	r := c.Do("POST", "/api/users/login", map[string]string{"email": c.Email, "password": c.Password}, nil)
	r.Decode(t, &login)
	if d := time.Until(login.ExpiresAt); d <= 0 || d > 2*time.Second {
		t.Errorf("token expires in %s, want within TOKEN_TTL=2s", d)
	}
	if r := c.Do("GET", "/api/users/me", nil, nil); r.Status != http.StatusOK {
		t.Fatalf("me with a fresh token: %d %s", r.Status, r.Body)
	}
	// JWT expiry has one-second resolution.
	time.Sleep(time.Until(login.ExpiresAt) + 1100*time.Millisecond)
	if r := c.Do("GET", "/api/users/me", nil, nil); r.Status != http.StatusUnauthorized || r.Error.Code != "token_expired" {
		t.Errorf("me with an expired token: %d %s, want 401 token_expired", r.Status, r.Body)
	}
}
