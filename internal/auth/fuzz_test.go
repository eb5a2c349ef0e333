package auth

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Whatever a client sends as a token, verification never panics and accepts
// nothing but what the issuer's key signed.
func FuzzVerify(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(nil)
	signer := NewSigner("k1", key)
	good, _, _ := signer.UserToken("0192f0a4-2b6c-7d1e-8f00-112233445566", time.Hour)
	svc, _, _ := signer.ServiceToken("orders", RolesOf("orders"), time.Hour)
	f.Add(good)
	f.Add(svc)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("not.a.jwt")
	keys := func(tok *jwt.Token) (any, error) { return key.Public(), nil }
	f.Fuzz(func(t *testing.T, token string) {
		v := NewVerifier(keys)
		if u, err := v.User(token); err == nil && token != good {
			t.Fatalf("accepted %q as user %s", token, u.ID)
		}
		if c, err := v.Service(token); err == nil && token != svc {
			t.Fatalf("accepted %q as service %s", token, c.Name)
		}
	})
}
