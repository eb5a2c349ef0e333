package storefront_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/shoptest"
	"github.com/otelshop/shop/services/gateway/storefront"
)

// browser is what a shopper's browser does with the storefront: it keeps
// cookies, sends what the pages' script sends, and follows no redirect by itself
// (the tests look at each).
type browser struct {
	t    *testing.T
	base string
	http *http.Client
}

func newBrowser(t *testing.T, s *shoptest.Shop) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: s.GatewayURL, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, body any, header http.Header) answer {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		enc, err := json.Marshal(body)
		if err != nil {
			b.t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

func (b *browser) get(path string) answer { b.t.Helper(); return b.do("GET", path, nil, nil) }

// script is what the pages' script sends with every call.
var script = http.Header{storefront.CSRFHeader: {"1"}}

// signIn signs a new shopper in the way the sign-in page does.
func (b *browser) signIn(s *shoptest.Shop) *shoptest.Client {
	b.t.Helper()
	c := s.NewShopper(b.t)
	a := b.do("POST", "/session", map[string]string{"email": c.Email, "password": c.Password}, script)
	if a.status != http.StatusOK {
		b.t.Fatalf("sign in: %d %s", a.status, a.body)
	}
	return c
}

func (a answer) mustBe(t *testing.T, status int, contains ...string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %.400s", a.status, status, a.body)
	}
	for _, want := range contains {
		if !strings.Contains(a.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func TestPages_ShowTheCatalogueFromTheAPI(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	b := newBrowser(t, s)
	var page struct {
		Products []struct{ ID, Name string }
		Total    int
	}
	s.Anonymous(t).Do("GET", "/api/products?page=2&page_size=12", nil, nil).Decode(t, &page)

	home := b.get("/?page=2")
	home.mustBe(t, http.StatusOK, "All products", fmt.Sprintf("%d products", page.Total), "Page 2 of", `rel="prev"`, `rel="next"`)
	for _, p := range page.Products {
		if !strings.Contains(home.body, `href="/products/`+p.ID+`"`) || !strings.Contains(home.body, p.Name) {
			t.Errorf("page 2 lacks %s %q", p.ID, p.Name)
		}
	}
	if ct := home.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	if n := strings.Count(home.body, `class="card"`); n != len(page.Products) {
		t.Errorf("%d product cards, the API's page has %d", n, len(page.Products))
	}

	kitchen := b.get("/?category=kitchen")
	kitchen.mustBe(t, http.StatusOK, "Kitchen", `aria-current="page">kitchen`)
	if strings.Contains(kitchen.body, "tile-books") {
		t.Error("the kitchen category shows a book")
	}
	b.get("/?q=headphones").mustBe(t, http.StatusOK, "Results for “headphones”", "Headphones")
	b.get("/?q=nothing-is-called-this").mustBe(t, http.StatusOK, "No products match")
	b.get("/products/SKU-00001").mustBe(t, http.StatusOK, "SKU-00001", "Sign in to buy")

	// Every refusal is a page that says so, with the status that says it.
	b.get("/products/SKU-99999").mustBe(t, http.StatusNotFound, "Not found")
	b.get("/products/a%2Fb").mustBe(t, http.StatusNotFound, "Not found")
	b.get("/no/such/page").mustBe(t, http.StatusNotFound, "There is no such page")
	b.get("/?page=0").mustBe(t, http.StatusBadRequest, "The page number must be")
	b.get("/?category=DROP%20TABLE").mustBe(t, http.StatusBadRequest, "That did not work")
	b.get("/?q="+strings.Repeat("x", 101)).mustBe(t, http.StatusBadRequest, "That did not work")
}

// A product named with markup is text on every page that shows it.
func TestPages_EscapeWhatTheAPIHolds(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	name := `<script>window.pwned=1</script><img src=x onerror="window.pwned=2"> Lamp`
	id := "XSS-" + strings.ToUpper(shoptest.RandomHex(3))
	api := s.API(t, "catalog", auth.AdminClient)
	if err := api.Do(context.Background(), "POST", "/v1/products", "/v1/products", nil, map[string]any{
		"id": id, "name": name, "description": `"quoted" & <b>bold</b>`, "category": "home",
		"price_cents": 1999, "image_url": "https://images.shop.example/x.jpg",
	}, nil); err != nil {
		t.Fatal(err)
	}
	s.SetStock(t, id, 5)
	b := newBrowser(t, s)
	c := b.signIn(s)
	c.AddToCart(id, 1)
	escaped := "&lt;script&gt;window.pwned=1&lt;/script&gt;&lt;img src=x onerror=&#34;window.pwned=2&#34;&gt; Lamp"
	for _, path := range []string{"/products/" + id, "/?q=Lamp&category=home", "/cart", "/checkout"} {
		a := b.get(path)
		if a.status != http.StatusOK || !strings.Contains(a.body, escaped) {
			t.Errorf("%s: %d, the name is not shown escaped", path, a.status)
		}
		if strings.Contains(a.body, "<script>window") || strings.Contains(a.body, "<img src=x") || strings.Contains(a.body, "<b>bold") {
			t.Errorf("%s renders the product's markup as markup", path)
		}
	}
	// What a shopper types is escaped too, in the search box and the heading.
	a := b.get("/?q=" + url.QueryEscape(`"><script>alert(1)</script>`))
	a.mustBe(t, http.StatusOK, "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;")
	if strings.Contains(a.body, "<script>alert") {
		t.Error("the search text is rendered as markup")
	}
}

// Every page forbids inline script and style, framing and foreign origins, and
// is not cached; the sign-in link returns to the page.
func TestPages_SecurityHeaders(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	b := newBrowser(t, s)
	for _, path := range []string{"/", "/products/SKU-00002", "/signin", "/signup", "/nowhere"} {
		a := b.get(path)
		csp := a.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q allows something unsafe", path, csp)
		}
		if a.header.Get("X-Content-Type-Options") != "nosniff" || a.header.Get("Cache-Control") != "no-store" || a.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, a.header)
		}
		if regexp.MustCompile(`<script>|<script [^>]*>[^<]|\sstyle=|\son[a-z]+=`).MatchString(a.body) {
			t.Errorf("%s has inline script, style or an event handler attribute", path)
		}
	}
	b.get("/products/SKU-00002").mustBe(t, http.StatusOK, `href="/signin?next=%2fproducts%2fSKU-00002"`)
}

// The bundle and style sheet are served with their content type, a strong ETag
// and, at their versioned URL, a year's cache.
func TestStatic_ServedWithVersionsAndETags(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	b := newBrowser(t, s)
	home := b.get("/")
	for file, ctype := range map[string]string{"storefront.js": "text/javascript", "storefront.css": "text/css", "favicon.svg": "image/svg+xml"} {
		m := regexp.MustCompile(`/static/` + regexp.QuoteMeta(file) + `\?v=([0-9a-f]{16})`).FindStringSubmatch(home.body)
		if m == nil {
			t.Errorf("the page does not link %s by version", file)
			continue
		}
		a := b.get(m[0])
		if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), ctype) ||
			a.header.Get("Cache-Control") != "public, max-age=31536000, immutable" || a.header.Get("ETag") != `"`+m[1]+`"` {
			t.Errorf("%s: %d %v", m[0], a.status, a.header)
		}
		if again := b.do("GET", "/static/"+file, nil, http.Header{"If-None-Match": {`"` + m[1] + `"`}}); again.status != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d, want 304", file, again.status)
		}
	}
	b.get("/static/nothing.js").mustBe(t, http.StatusNotFound)
	b.get("/static/../storefront.go").mustBe(t, http.StatusBadRequest)
}

// The session cookie holds the token where script cannot read it, other sites
// cannot send it, and it counts on the API only with the pages' CSRF header.
func TestSession_CookieIsStrictAndCountsOnlyFromThePages(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	b := newBrowser(t, s)
	c := s.NewShopper(t)
	creds := map[string]string{"email": c.Email, "password": c.Password}

	if a := b.do("POST", "/session", creds, nil); a.status != http.StatusForbidden || !strings.Contains(a.body, "csrf_header_missing") {
		t.Errorf("sign in without the CSRF header: %d %s, want 403", a.status, a.body)
	}
	evil := http.Header{storefront.CSRFHeader: {"1"}, "Sec-Fetch-Site": {"cross-site"}}
	if a := b.do("POST", "/session", creds, evil); a.status != http.StatusForbidden || !strings.Contains(a.body, "cross_origin") {
		t.Errorf("sign in from another site: %d %s, want 403", a.status, a.body)
	}
	wrong := b.do("POST", "/session", map[string]string{"email": c.Email, "password": "wrong-password"}, script)
	if wrong.status != http.StatusUnauthorized || len(wrong.header.Values("Set-Cookie")) != 0 {
		t.Errorf("a wrong password: %d %v %s", wrong.status, wrong.header, wrong.body)
	}

	a := b.do("POST", "/session", creds, script)
	a.mustBe(t, http.StatusOK, "expires_at")
	if strings.Contains(a.body, "eyJ") {
		t.Errorf("the token is in the answer: %s", a.body)
	}
	cookie := a.header.Get("Set-Cookie")
	for _, want := range []string{storefront.SessionCookie + "=eyJ", "Path=/", "HttpOnly", "SameSite=Strict", "Max-Age="} {
		if !strings.Contains(cookie, want) {
			t.Errorf("Set-Cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("Set-Cookie %q is Secure over plain HTTP without SESSION_COOKIE_SECURE", cookie)
	}

	// Pages count the cookie; the API only with the header, and not from elsewhere.
	b.get("/cart").mustBe(t, http.StatusOK, "Your cart is empty")
	b.get("/").mustBe(t, http.StatusOK, "Sign out", `data-cart-count>0<`)
	item := map[string]any{"product_id": "SKU-00003", "quantity": 2}
	for name, h := range map[string]http.Header{
		"no header":      nil,
		"a wrong header": {storefront.CSRFHeader: {"yes"}},
		"another site":   evil,
		"another origin": {storefront.CSRFHeader: {"1"}, "Origin": {"https://evil.example"}},
		"a sibling site": {storefront.CSRFHeader: {"1"}, "Sec-Fetch-Site": {"same-site"}},
	} {
		if a := b.do("POST", "/api/cart/items", item, h); a.status != http.StatusForbidden {
			t.Errorf("add to the cart with the cookie and %s: %d %s, want 403", name, a.status, a.body)
		}
	}
	if a := b.do("GET", "/api/cart", nil, nil); a.status != http.StatusForbidden || !strings.Contains(a.body, "csrf_header_missing") {
		t.Errorf("read the cart with the cookie and no header: %d %s, want 403", a.status, a.body)
	}
	b.get("/api/products/SKU-00003").mustBe(t, http.StatusOK) // public routes stay public
	b.do("POST", "/api/cart/items", item, script).mustBe(t, http.StatusOK, `"quantity":2`)
	b.get("/cart").mustBe(t, http.StatusOK, "SKU-00003", `value="2"`, `data-cart-count>2<`)

	// Signing out clears the cookie; the pages then ask to sign in.
	if a := b.do("DELETE", "/session", nil, nil); a.status != http.StatusForbidden {
		t.Errorf("sign out without the header: %d, want 403", a.status)
	}
	out := b.do("DELETE", "/session", nil, script)
	if out.status != http.StatusNoContent || !strings.Contains(out.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("sign out: %d %v", out.status, out.header)
	}
	if a := b.get("/cart"); a.status != http.StatusSeeOther || a.header.Get("Location") != "/signin?next=%2Fcart" {
		t.Errorf("the cart after signing out: %d %q", a.status, a.header.Get("Location"))
	}
}

// A session whose token expired says so, forgets the cookie and leads to signing
// in again, back to where the shopper was.
func TestSession_Expired(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	c := s.NewShopper(t)
	var me struct{ ID string }
	c.Do("GET", "/api/users/me", nil, nil).Decode(t, &me)
	b := newBrowser(t, s)
	u, _ := url.Parse(s.GatewayURL)
	b.http.Jar.SetCookies(u, []*http.Cookie{{Name: storefront.SessionCookie, Value: s.ExpiredUserToken(t, me.ID), Path: "/"}})

	a := b.get("/orders")
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/signin?next=%2Forders&expired=1" {
		t.Fatalf("orders with an expired session: %d %q", a.status, a.header.Get("Location"))
	}
	if !strings.Contains(a.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("the expired cookie is not cleared: %v", a.header)
	}
	b.get("/signin?next=%2Forders&expired=1").mustBe(t, http.StatusOK, "Your session has expired", `data-next="/orders"`)

	b.http.Jar.SetCookies(u, []*http.Cookie{{Name: storefront.SessionCookie, Value: s.ExpiredUserToken(t, me.ID), Path: "/"}})
	b.get("/").mustBe(t, http.StatusOK, "Your session has expired", "Sign in")
	b.http.Jar.SetCookies(u, []*http.Cookie{{Name: storefront.SessionCookie, Value: s.ExpiredUserToken(t, me.ID), Path: "/"}})
	api := b.do("GET", "/api/cart", nil, script)
	if api.status != http.StatusUnauthorized || !strings.Contains(api.body, "token_expired") {
		t.Errorf("the API with an expired session: %d %s", api.status, api.body)
	}
}

// With SESSION_COOKIE_SECURE (TLS ended in front of the gateway) the cookie is Secure.
func TestSession_SecureBehindTLS(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{Env: map[string]string{"SESSION_COOKIE_SECURE": "true"}})
	c := s.NewShopper(t)
	b := newBrowser(t, s)
	a := b.do("POST", "/session", map[string]string{"email": c.Email, "password": c.Password}, script)
	if a.status != http.StatusOK || !strings.Contains(a.header.Get("Set-Cookie"), "Secure") {
		t.Errorf("sign in: %d, Set-Cookie %q, want Secure", a.status, a.header.Get("Set-Cookie"))
	}
}

// The walk of the issue through the pages: sign in, fill the cart, check out
// (through the API, as the page's script does), see the order and its shipment.
func TestPages_CartCheckoutOrderShipment(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	b := newBrowser(t, s)
	b.signIn(s)
	b.do("POST", "/api/cart/items", map[string]any{"product_id": "SKU-00010", "quantity": 1}, script).mustBe(t, http.StatusOK)
	b.do("POST", "/api/cart/items", map[string]any{"product_id": "SKU-00020", "quantity": 2}, script).mustBe(t, http.StatusOK)
	var p10, p20 struct {
		Name       string
		PriceCents int64 `json:"price_cents"`
	}
	anon := s.Anonymous(t)
	anon.Do("GET", "/api/products/SKU-00010", nil, nil).Decode(t, &p10)
	anon.Do("GET", "/api/products/SKU-00020", nil, nil).Decode(t, &p20)
	total := p10.PriceCents + 2*p20.PriceCents
	money := func(c int64) string { return fmt.Sprintf("$%d.%02d", c/100, c%100) }
	b.get("/cart").mustBe(t, http.StatusOK, p10.Name, p20.Name, money(2*p20.PriceCents), money(total), `data-cart-count>3<`)
	b.get("/checkout").mustBe(t, http.StatusOK, "Place order · "+money(total), "Shipping address")

	var order struct{ ID, Status string }
	r := b.do("POST", "/api/checkout", shoptest.CheckoutBody(""), script)
	r.mustBe(t, http.StatusCreated)
	if err := json.Unmarshal([]byte(r.body), &order); err != nil || order.Status != "placed" {
		t.Fatalf("checkout: %s", r.body)
	}
	trace := strings.Repeat("ab", 16)
	page := b.get("/orders/" + order.ID + "?placed=1&trace=" + trace)
	page.mustBe(t, http.StatusOK, "your order is placed", `data-trace-id="`+trace+`"`, "/trace/"+trace, p10.Name, money(total))
	b.get("/orders/"+order.ID+"?placed=1&trace=%3Cscript%3E").mustBe(t, http.StatusOK, "your order is placed")
	if a := b.get("/orders/" + order.ID + "?placed=1&trace=%3Cscript%3E"); strings.Contains(a.body, "data-trace-id") {
		t.Error("a trace parameter that is not a trace id is shown")
	}
	b.get("/orders").mustBe(t, http.StatusOK, order.ID[len(order.ID)-8:], "placed")
	b.get("/cart").mustBe(t, http.StatusOK, "Your cart is empty")
	shoptest.Eventually(t, 15*time.Second, func() error {
		if a := b.get("/orders/" + order.ID); !strings.Contains(a.body, "data-shipment-carrier") {
			return fmt.Errorf("no shipment on the order page yet")
		}
		return nil
	})
	// Another shopper's order is not found.
	other := newBrowser(t, s)
	other.signIn(s)
	other.get("/orders/"+order.ID).mustBe(t, http.StatusNotFound, "Not found")
	other.get("/orders/not-an-id").mustBe(t, http.StatusNotFound, "Not found")
}
