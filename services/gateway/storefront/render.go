package storefront

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode"

	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/auth"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// contentSecurityPolicy lets a page run only the shop's own script file and
// style sheet: no inline script or style, nothing from elsewhere, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// pageNames are the templates/<name>.html, each rendered inside layout.html.
var pageNames = []string{"home", "product", "signin", "signup", "cart", "checkout", "orders", "order", "error"}

type pages map[string]*template.Template

func mustParsePages() pages {
	p := pages{}
	for _, name := range pageNames {
		p[name] = template.Must(template.New("layout.html").Funcs(templateFuncs).
			ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return p
}

var templateFuncs = template.FuncMap{
	"money":    money,
	"initials": initials,
	"asset":    assetURL,
	"date":     func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
	"short":    short,
	"words":    func(code string) string { return strings.ReplaceAll(code, "_", " ") },
}

// short is how people read an order's id: its last 8 characters (the random
// part; a UUIDv7 begins with the time, the same for orders of one minute).
func short(id string) string { return id[max(0, len(id)-8):] }

// frame is what every page shows around its content: who is signed in, the
// cart's size, the search box, a notice, and the server span's trace context for
// the browser's document-load span to continue (<meta name="traceparent">).
type frame struct {
	Title       string
	Page        string
	SignedIn    bool
	CartCount   int
	Query       string
	Notice      string
	TraceParent string
	Here        string // this page's path and query: where signing in returns to

	token     string // the shopper's token, for the API calls the page makes
	expired   bool   // a session cookie came that no longer counts
	cartKnown bool   // the page read the cart itself; CartCount is set
	status    int
}

// view is what a page template executes on: the frame's fields and the page's own.
type view struct {
	*frame
	Data any
}

// pageError is a page that cannot be shown, said in words for the shopper.
type pageError struct {
	Status  int
	Title   string
	Message string
}

func (e *pageError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Message) }

// errSignInRequired sends the shopper to the sign-in page, and back afterwards.
var errSignInRequired = errors.New("sign in required")

type pageFunc func(r *http.Request, f *frame) (any, error)

// page renders a page: the frame, the page's data from fn, the template. The
// HTML is built whole before a byte is written, so a failure is an error page,
// never half of one.
func (s *Storefront) page(name string, fn pageFunc) http.Handler {
	t, ok := s.pages[name]
	if !ok {
		panic("storefront: no template " + name) // a route naming a page that does not exist
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w.Header())
		f := s.newFrame(w, r, name)
		data, err := fn(r, f)
		if errors.Is(err, errSignInRequired) {
			next := "/signin?next=" + url.QueryEscape(r.URL.RequestURI())
			if f.expired {
				next += "&expired=1"
			}
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		if err != nil {
			s.renderError(w, r, f, err)
			return
		}
		if f.SignedIn && !f.cartKnown {
			s.countCart(r, f)
		}
		s.render(w, r, t, f, data)
	})
}

func (s *Storefront) newFrame(w http.ResponseWriter, r *http.Request, name string) *frame {
	f := &frame{Page: name, TraceParent: traceParent(r.Context()), Here: r.URL.RequestURI(), status: http.StatusOK}
	if u, ok := auth.UserFrom(r.Context()); ok {
		f.SignedIn, f.token = true, u.Token
	} else if hasSession(r) {
		// The cookie's token expired (or was never valid): forget it.
		http.SetCookie(w, s.clearedCookie(r))
		f.expired = true
		f.Notice = "Your session has expired. Sign in again to see your cart and orders."
	}
	return f
}

func (s *Storefront) render(w http.ResponseWriter, r *http.Request, t *template.Template, f *frame, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, view{frame: f, Data: data}); err != nil {
		s.cfg.Logger.ErrorContext(r.Context(), "render page", "page", f.Page, "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(f.status)
	_, _ = w.Write(buf.Bytes())
}

// renderError shows what went wrong in words, with the status that says it.
func (s *Storefront) renderError(w http.ResponseWriter, r *http.Request, f *frame, err error) {
	pe := &pageError{Status: http.StatusServiceUnavailable, Title: "Something went wrong",
		Message: "The shop could not show this page just now. Try again in a moment."}
	var ae *apiError
	switch {
	case errors.As(err, &pe):
	case errors.As(err, &ae):
		switch {
		case ae.Status == http.StatusNotFound:
			pe = &pageError{Status: http.StatusNotFound, Title: "Not found", Message: "There is nothing here: " + ae.Message + "."}
		case ae.Status == http.StatusTooManyRequests:
			pe = &pageError{Status: http.StatusTooManyRequests, Title: "Too many requests",
				Message: "You are going a little fast. Wait a moment, then reload the page."}
		case ae.Status < 500:
			pe = &pageError{Status: ae.Status, Title: "That did not work", Message: sentence(ae.Message)}
		default:
			s.cfg.Logger.WarnContext(r.Context(), "page failed", "page", f.Page, "status", ae.Status, "code", ae.Code)
		}
	default:
		s.cfg.Logger.ErrorContext(r.Context(), "page failed", "page", f.Page, "error", err)
	}
	f.Page, f.Title, f.status = "error", pe.Title, pe.Status
	s.render(w, r, s.pages["error"], f, pe)
}

// countCart fills in the header's cart size; a page still shows when the cart
// cannot be read, just without the number.
func (s *Storefront) countCart(r *http.Request, f *frame) {
	var c cartBody
	if err := s.call(r, f.token, http.MethodGet, "/api/cart", &c); err != nil {
		return
	}
	for _, it := range c.Items {
		f.CartCount += it.Quantity
	}
}

func setPageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	// Pages show a shopper's cart and orders: no cache keeps them.
	h.Set("Cache-Control", "no-store")
}

// traceParent is the W3C traceparent of the span in ctx (the gateway's server
// span of this page), or "" outside one.
func traceParent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return fmt.Sprintf("00-%s-%s-%02x", sc.TraceID(), sc.SpanID(), byte(sc.TraceFlags()))
}

// ---- static assets

// asset is one embedded file of static/, served with a strong ETag and, when
// asked for by its versioned URL (asset in the templates), cached for a year.
type asset struct {
	data        []byte
	etag        string
	contentType string
}

var assets = mustLoadAssets()

func mustLoadAssets() map[string]asset {
	out := map[string]asset{}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		out[strings.TrimPrefix(p, "static/")] = asset{data: data, etag: hex.EncodeToString(sum[:8]), contentType: ctype}
		return nil
	})
	if err != nil {
		panic("storefront: static assets: " + err.Error())
	}
	return out
}

// assetURL is a static file's URL with its content hash: a new build is a new URL.
func assetURL(name string) string {
	a, ok := assets[name]
	if !ok {
		panic("storefront: no static asset " + name) // a template naming a file that is not there
	}
	return "/static/" + name + "?v=" + a.etag
}

func (s *Storefront) static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		a, ok := assets[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", `"`+a.etag+`"`)
		if r.URL.Query().Get("v") == a.etag {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.data))
	})
}

// ---- template functions

// money formats an amount in cents: $12.34 for US dollars, 12.34 EUR otherwise.
func money(cents int64, currency string) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	amount := fmt.Sprintf("%d.%02d", cents/100, cents%100)
	if currency == "" || currency == "USD" {
		return sign + "$" + amount
	}
	return sign + amount + " " + currency
}

// initials are what a product's picture shows: the first letter of its first
// two words ("Trail Tent" → TT).
func initials(name string) string {
	var out []rune
	for _, word := range strings.Fields(name) {
		for _, c := range word {
			if unicode.IsLetter(c) || unicode.IsDigit(c) {
				out = append(out, unicode.ToUpper(c))
				break
			}
		}
		if len(out) == 2 {
			break
		}
	}
	return string(out)
}

// sentence makes an API message ("the payment was declined: ...") read as one.
func sentence(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	s = string(r)
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
