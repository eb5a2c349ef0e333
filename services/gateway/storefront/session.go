package storefront

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/otelshop/shop/internal/httpx"
)

// SessionCookie holds a signed-in shopper's access token: HttpOnly (no script
// reads it), SameSite=Strict (no other site's page or link sends it), Secure
// over TLS, and gone when the token expires.
const SessionCookie = "shop_session"

// CSRFHeader must accompany the session cookie on every /api/ request and on
// every request that changes something. A page of another origin cannot add a
// header to a request without a CORS preflight, and the shop answers none.
const CSRFHeader = "X-Shop-CSRF"

var (
	errCSRFHeader = &httpx.Error{Status: http.StatusForbidden, Code: "csrf_header_missing",
		Message: "a session cookie counts only with the " + CSRFHeader + " header, which the storefront's pages send; API clients send Authorization: Bearer <token>"}
	errCrossOrigin = &httpx.Error{Status: http.StatusForbidden, Code: "cross_origin",
		Message: "cross-origin requests with the session cookie are refused"}
	crossOrigin = http.NewCrossOriginProtection()
)

// SessionToken returns the token of r's session cookie, when r may use it: a
// page (GET, outside /api/) always; anything else only when it passes
// sameOrigin. The gateway's guard asks this when r has no Authorization header;
// an error says why the cookie does not count (the request is then anonymous).
func SessionToken(r *http.Request) (string, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return "", nil
	}
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead
	if !safe || strings.HasPrefix(r.URL.Path, "/api/") {
		if err := sameOrigin(r); err != nil {
			return "", err
		}
	}
	return c.Value, nil
}

// sameOrigin checks that r comes from a page of the shop's own: it carries
// CSRFHeader, and the browser's Sec-Fetch-Site or Origin does not name another
// origin. net/http's CrossOriginProtection judges that; it passes every GET,
// so it is asked about r as if r changed something, reads included.
func sameOrigin(r *http.Request) error {
	if r.Header.Get(CSRFHeader) != "1" {
		return errCSRFHeader
	}
	asWrite := *r
	asWrite.Method = http.MethodPost
	if crossOrigin.Check(&asWrite) != nil {
		return errCrossOrigin
	}
	return nil
}

// signIn is POST /session: the shopper's email and password go to the public
// login (POST /api/users/login, in process: its validation, rate limits and
// lockout apply), and the token it answers is put in the session cookie. The
// answer holds when the session ends, never the token.
func (s *Storefront) signIn() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if err := sameOrigin(r); err != nil {
			return err
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			return &httpx.Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
				Message: "send the email and password as application/json"}
		}
		var login struct {
			Token     string    `json:"token"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		err := s.send(w, r, "", http.MethodPost, "/api/users/login", r.Body, &login)
		var ae *apiError
		if errors.As(err, &ae) {
			// The API's own answer: wrong password, locked account, bad email.
			if ae.RetryAfter != "" {
				w.Header().Set("Retry-After", ae.RetryAfter)
			}
			httpx.WriteJSON(w, ae.Status, map[string]*apiError{"error": ae})
			return nil
		}
		if err != nil {
			return err
		}
		if login.Token == "" || !login.ExpiresAt.After(time.Now()) {
			return errors.New("storefront: the login answered without a usable token")
		}
		http.SetCookie(w, s.sessionCookie(r, login.Token, login.ExpiresAt))
		httpx.WriteJSON(w, http.StatusOK, map[string]time.Time{"expires_at": login.ExpiresAt})
		return nil
	})
}

// signOut is DELETE /session: the cookie is cleared. The token itself expires on
// its own (tokens are not revocable in this shop; see docs/threat-model.md).
func (s *Storefront) signOut() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if err := sameOrigin(r); err != nil {
			return err
		}
		http.SetCookie(w, s.clearedCookie(r))
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func (s *Storefront) sessionCookie(r *http.Request, token string, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/",
		Expires: expires, MaxAge: int(time.Until(expires).Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || s.cfg.SecureCookie,
	}
}

func (s *Storefront) clearedCookie(r *http.Request) *http.Cookie {
	return &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || s.cfg.SecureCookie}
}

// hasSession says whether r carries a session cookie at all (valid or not).
func hasSession(r *http.Request) bool {
	c, err := r.Cookie(SessionCookie)
	return err == nil && c.Value != ""
}
