package users

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/otelshop/shop/internal/httpx"
)

// Whatever the body, decoding a registration never panics, and what it accepts is
// within the contract: a valid email, 8 to 72 bytes of password, a name of 1 to
// 100 characters without control characters, no NUL anywhere.
func FuzzRegisterRequest(f *testing.F) {
	f.Add([]byte(`{"email":"a@example.com","password":"longenough","name":"Ann"}`))
	f.Add([]byte(`{"email":"a@example.com","password":"longenough","name":"A\u0000"}`))
	f.Add([]byte("{\"email\":\"\xff@x.com\",\"password\":\"longenough\",\"name\":\"A\"}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := httpx.Decode[registerRequest](httptest.NewRequest("POST", "/", bytes.NewReader(body)))
		if err != nil {
			return
		}
		if validateEmail(req.Email) != nil || len(req.Password) < 8 || len(req.Password) > 72 {
			t.Fatalf("accepted %q", body)
		}
		if n := utf8.RuneCountInString(req.Name); n < 1 || n > 100 || strings.ContainsFunc(req.Name, unicode.IsControl) {
			t.Fatalf("accepted the name %q", req.Name)
		}
		if strings.ContainsRune(req.Email+req.Password+req.Name, 0) {
			t.Fatalf("accepted NUL in %q", body)
		}
	})
}

// Whatever the body, decoding a login never panics; what it accepts has a valid
// email and a password bcrypt can take (1 to 72 bytes).
func FuzzLoginRequest(f *testing.F) {
	f.Add([]byte(`{"email":"a@example.com","password":"x"}`))
	f.Add([]byte(`{"email":"a@example.com","password":""}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := httpx.Decode[loginRequest](httptest.NewRequest("POST", "/", bytes.NewReader(body)))
		if err != nil {
			return
		}
		if validateEmail(req.Email) != nil || req.Password == "" || len(req.Password) > 72 {
			t.Fatalf("accepted %q", body)
		}
	})
}
