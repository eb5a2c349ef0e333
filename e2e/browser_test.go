package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/shoptest"
	"github.com/otelshop/shop/services/inventory"
	"github.com/otelshop/shop/telemetry"
)

// The storefront in a real browser: Debian's Chromium, headless, driven over the
// DevTools protocol (chromedp) through the pages of the running platform, with
// the real collector and Jaeger behind them. A script error or a
// Content-Security-Policy violation on any page fails the test that caused it.
//
// This file runs before dashboards_test.go (go test runs a package's files in
// name order): the overview's storefront row then finds the series these
// shoppers caused, and TestStorefront_BrowserSpansAreTheStorefronts waits until
// Prometheus has them.

// needChromium returns Chromium's path, or skips the test on a machine without
// it; in CI (.ci/run installs it) its absence fails the test instead.
func needChromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed (.ci/run installs Debian's package)")
		}
		t.Skip("no chromium on this machine: apt-get install -y chromium")
	}
	return path
}

// browsersRan says whether the browser tests could run here: where they were
// skipped, nothing the storefront's browsers send is there to look for.
func browsersRan() bool {
	_, err := exec.LookPath("chromium")
	return err == nil || os.Getenv("CI") != ""
}

// chromium starts a headless Chromium of its own (a fresh profile) at the
// window's width and returns its context; the browser stops with the test.
func chromium(t *testing.T, width int64) (context.Context, *pageProblems) {
	t.Helper()
	path := needChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(int(width), 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no deadline of its own
		t.Fatalf("start chromium: %v", err)
	}
	problems := &pageProblems{}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// Failed requests (a declined card's 402) are the pages' business;
			// script errors and policy violations are not.
			if m.Type == chromedp.ConsoleException || (m.Type == chromedp.ConsoleError && m.Source != "network") {
				problems.add(fmt.Sprintf("%s %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
			}
		}
	}()
	t.Cleanup(func() {
		for _, p := range problems.list() {
			t.Errorf("in the page: %s", p)
		}
	})
	return ctx, problems
}

type pageProblems struct {
	mu   sync.Mutex
	seen []string
}

func (p *pageProblems) add(s string) { p.mu.Lock(); p.seen = append(p.seen, s); p.mu.Unlock() }
func (p *pageProblems) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

// steps runs browser actions within limit, failing the test with a screenshot
// of the page as it was (into the artefacts) when one fails.
func steps(t *testing.T, ctx context.Context, limit time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		where, _ := chromedp.Run(ctx, chromedp.Location())
		shot := saveScreenshot(t, ctx, "failed-"+strings.ReplaceAll(t.Name(), "/", "-"))
		t.Fatalf("in the browser at %s: %v (screenshot %s)", where, err, shot)
	}
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// navigating runs an action that makes the page go to another (or reload), and
// waits for the new page's load event: a condition polled before would be asked
// of the page that is going away.
func navigating(a chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.WaitEvent(page.LoadEventFired, nil, a)(ctx, t)
		return err
	})
}

// until waits for a JavaScript condition on the page.
func until(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(90*time.Second))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// ---- what a shopper does

type shopperSteps struct {
	t   *testing.T
	ctx context.Context
}

func (s shopperSteps) signUp() {
	email := "browser-" + shoptest.RandomHex(5) + "@example.com"
	steps(s.t, s.ctx, time.Minute,
		chromedp.Navigate(platform.GatewayURL+"/signup"),
		chromedp.WaitVisible(css("#name")),
		chromedp.SendKeys(css("#name"), "Browser Shopper"),
		chromedp.SendKeys(css("#email"), email),
		chromedp.SendKeys(css("#password"), "pw-"+shoptest.RandomHex(8)),
		navigating(chromedp.Click(css(`form[data-action="signup"] button[type="submit"]`))),
		chromedp.WaitVisible(css(`button[data-action="signout"]`)),
	)
}

// search types q into the search box and waits for its results.
func (s shopperSteps) search(q string) {
	steps(s.t, s.ctx, time.Minute,
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#search-q").value = ""`),
		chromedp.SendKeys(css("#search-q"), q),
		navigating(chromedp.Submit(css("#search-q"))),
		until(`location.search.includes("q=`+url.QueryEscape(q)+`") && document.querySelector("[data-products]") !== null`),
	)
}

// addFirstResult adds the first product of the page to the cart and returns
// its id, once the header counts cartSize items.
func (s shopperSteps) addFirstResult(cartSize int) string {
	id, err := chromedp.Run(s.ctx, chromedp.AttributeValue(css("[data-products] li.card"), "data-product-id"))
	if err != nil || !id.Exists {
		s.t.Fatalf("no product on the page: %v", err)
	}
	steps(s.t, s.ctx, time.Minute,
		chromedp.Click(css(`[data-products] li.card form[data-action="add-to-cart"] button`)),
		until(fmt.Sprintf(`document.querySelector("[data-cart-count]").textContent === "%d"`, cartSize)),
		chromedp.WaitVisible(css(`[data-message="ok"]`)),
	)
	return id.Value
}

func (s shopperSteps) fillCheckout(card string) {
	steps(s.t, s.ctx, time.Minute,
		chromedp.Navigate(platform.GatewayURL+"/checkout"),
		chromedp.WaitVisible(css(".checkout-form")),
		chromedp.SendKeys(css("#ship-name"), "Browser Shopper"),
		chromedp.SendKeys(css("#ship-line1"), "1 Test Street"),
		chromedp.SendKeys(css("#ship-postal"), "10115"),
		chromedp.SendKeys(css("#ship-city"), "Berlin"),
		chromedp.SetValue(css("#ship-country"), "DE"),
		chromedp.SendKeys(css("#card-number"), card),
		chromedp.SendKeys(css("#card-expiry"), "12/39"),
		chromedp.SendKeys(css("#card-cvc"), "123"),
	)
}

// placeOrder submits the filled checkout and waits for the order page; it
// returns the order's id and the checkout's trace id the page shows.
func (s shopperSteps) placeOrder() (orderID, traceID string) {
	steps(s.t, s.ctx, time.Minute,
		navigating(chromedp.Click(css(`form[data-action="checkout"] button[type="submit"]`))),
		chromedp.WaitVisible(css("[data-confirmation]")),
	)
	loc, err := chromedp.Run(s.ctx, chromedp.Location())
	if err != nil {
		s.t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		s.t.Fatal(err)
	}
	tr, err := chromedp.Run(s.ctx, chromedp.AttributeValue(css("[data-trace-id]"), "data-trace-id"))
	if err != nil || !tr.Exists || tr.Value != u.Query().Get("trace") {
		s.t.Fatalf("the order page shows no trace id of the checkout (%v, %q, %s)", err, tr.Value, loc)
	}
	return strings.TrimPrefix(u.Path, "/orders/"), tr.Value
}

// ---- the operator's side: products and stock, as `shop token admin` would

type operator struct {
	creds *auth.Credentials
	stock *inventory.Client
}

func newOperator(t *testing.T) *operator {
	t.Helper()
	secret, err := auth.EnsureSecret(filepath.Join(platform.Stack.DataDir, "secrets"), auth.AdminClient)
	if err != nil {
		t.Fatal(err)
	}
	creds := &auth.Credentials{Client: auth.AdminClient,
		Tokens: auth.RemoteTokens(serviceURL("users"), auth.AdminClient, secret, &http.Client{Timeout: 10 * time.Second})}
	tel, err := telemetry.Start(context.Background(), telemetry.Config{ServiceName: "e2e-operator", Disabled: true, LogOutput: &strings.Builder{}})
	if err != nil {
		t.Fatal(err)
	}
	stock, err := inventory.NewClient(fmt.Sprintf("127.0.0.1:%d", testPort(8084)), tel, creds)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stock.Close() })
	return &operator{creds: creds, stock: stock}
}

func serviceURL(name string) string {
	ports := map[string]int{"users": 8081, "catalog": 8082}
	return fmt.Sprintf("http://127.0.0.1:%d", testPort(ports[name]))
}

// restock gives products ample stock, so the load generator's purchases cannot
// sell out what a test buys.
func (o *operator) restock(t *testing.T, ids ...string) {
	t.Helper()
	stock := map[string]int32{}
	for _, id := range ids {
		stock[id] = 500
	}
	if err := o.stock.SetStock(context.Background(), stock); err != nil {
		t.Fatalf("set stock: %v", err)
	}
}

func (o *operator) newProduct(t *testing.T, name string) string {
	t.Helper()
	id := "XSS-" + strings.ToUpper(shoptest.RandomHex(4)) // after the SKU-s: the catalogue lists by id
	api := httpx.Client{BaseURL: serviceURL("catalog"), HTTP: &http.Client{Timeout: 10 * time.Second}, Authorize: o.creds.Authorize}
	if err := api.Do(context.Background(), http.MethodPost, "/v1/products", "/v1/products", nil, map[string]any{
		"id": id, "name": name, "description": "Made by the storefront's browser test.", "category": "home",
		"price_cents": 2500, "image_url": "https://images.shop.example/" + id + ".jpg",
	}, nil); err != nil {
		t.Fatalf("create product: %v", err)
	}
	o.restock(t, id)
	return id
}

// ---- the tests

// A shopper signs up, searches, adds two products, changes a quantity, checks
// out with 4242 4242 4242 4242 and sees the order, then its shipment; the trace
// of the click on "Place order" is in Jaeger, rooted in the browser.
func TestStorefront_ShopperBuysAndTheClickIsTheTracesRoot(t *testing.T) {
	ctx, _ := chromium(t, 1280)
	s := shopperSteps{t, ctx}
	op := newOperator(t)
	s.signUp()
	s.search("headphones")
	first := s.addFirstResult(1)
	s.search("kettle")
	second := s.addFirstResult(2)
	if first == second {
		t.Fatalf("both searches added %s", first)
	}
	op.restock(t, first, second)

	qty := css(`form[data-action="cart-quantity"][data-product-id="` + second + `"] input`)
	steps(t, ctx, time.Minute,
		navigating(chromedp.Click(css("a.nav-cart"))),
		chromedp.WaitVisible(css("[data-cart]")),
		chromedp.SetValue(qty, "3"),
		navigating(chromedp.Click(css(`form[data-action="cart-quantity"][data-product-id="`+second+`"] button`))),
		until(`document.querySelector("[data-cart-count]").textContent === "4"`),
	)
	if lines := evaluate[int](t, ctx, `document.querySelectorAll("[data-cart] li.line").length`); lines != 2 {
		t.Fatalf("the cart shows %d lines, want 2", lines)
	}

	s.fillCheckout("4242 4242 4242 4242")
	orderID, traceID := s.placeOrder()
	if status := evaluate[string](t, ctx, `document.querySelector("[data-order-status]").textContent`); status != "placed" {
		t.Errorf("the order page says %q", status)
	}
	steps(t, ctx, 90*time.Second, chromedp.WaitVisible(css("[data-shipment-carrier]")))
	t.Logf("order %s placed; its shipment shown; checkout trace %s", orderID, traceID)

	// The click's trace: the browser's checkout span is the root, its fetch the
	// gateway's parent, and every hop to the shipment is in it, with no orphan.
	eventually(t, func() error {
		tr, err := jaegerTrace1(traceID)
		if err != nil {
			return err
		}
		return errors.Join(append(rootedInTheBrowser(tr), errorsOf(traceProblems(tr, "storefront"))...)...)
	})
}

// rootedInTheBrowser checks that the trace's root is the storefront's checkout
// span, whose fetch span is the parent of the gateway's.
func rootedInTheBrowser(tr jaegerTrace) []error {
	byID := map[string]int{}
	for i, s := range tr.Spans {
		byID[s.SpanID] = i
	}
	parent := func(i int) (int, bool) {
		for _, ref := range tr.Spans[i].References {
			if ref.RefType == "CHILD_OF" {
				p, ok := byID[ref.SpanID]
				return p, ok
			}
		}
		return 0, false
	}
	service := func(i int) string { return tr.Processes[tr.Spans[i].ProcessID].ServiceName }
	var errs []error
	for i, s := range tr.Spans {
		if _, ok := parent(i); !ok && (service(i) != "storefront" || s.OperationName != "checkout") {
			errs = append(errs, fmt.Errorf("a root span %q of %s; want the storefront's checkout as the only root", s.OperationName, service(i)))
		}
		if service(i) == "gateway" && s.OperationName == "POST /api/checkout" {
			fetch, ok := parent(i)
			if !ok || service(fetch) != "storefront" || tr.Spans[fetch].OperationName != "POST /api/checkout" {
				errs = append(errs, errors.New("the gateway's POST /api/checkout is not a child of the browser's fetch"))
				continue
			}
			if root, ok := parent(fetch); !ok || service(root) != "storefront" || tr.Spans[root].OperationName != "checkout" {
				errs = append(errs, errors.New("the browser's fetch is not a child of its checkout span"))
			}
		}
	}
	return errs
}

// jaegerTrace1 is one trace from Jaeger by id, or why not (yet).
func jaegerTrace1(id string) (jaegerTrace, error) {
	var out struct{ Data []jaegerTrace }
	if err := shoptest.GetJSON(context.Background(), platform.JaegerURL+"/api/traces/"+id, &out); err != nil {
		return jaegerTrace{}, err
	}
	if len(out.Data) == 0 || len(out.Data[0].Spans) == 0 {
		return jaegerTrace{}, fmt.Errorf("Jaeger has no trace %s", id)
	}
	return out.Data[0], nil
}

func errorsOf(problems []string) []error {
	out := make([]error, len(problems))
	for i, p := range problems {
		out[i] = errors.New(p)
	}
	return out
}

// A declined card (4000 0000 0000 0002) is said to be declined, and the cart
// stays as it was.
func TestStorefront_DeclinedCardKeepsTheCart(t *testing.T) {
	ctx, _ := chromium(t, 1280)
	s := shopperSteps{t, ctx}
	op := newOperator(t)
	s.signUp()
	op.restock(t, "SKU-00007")
	steps(t, ctx, time.Minute,
		chromedp.Navigate(platform.GatewayURL+"/products/SKU-00007"),
		chromedp.WaitVisible(css("#quantity")),
		chromedp.SetValue(css("#quantity"), "2"),
		chromedp.Click(css(`form[data-action="add-to-cart"] button`)),
		until(`document.querySelector("[data-cart-count]").textContent === "2"`),
	)
	s.fillCheckout("4000 0000 0000 0002")
	steps(t, ctx, time.Minute,
		chromedp.Click(css(`form[data-action="checkout"] button[type="submit"]`)),
		chromedp.WaitVisible(css(`[data-message="error"]`)),
	)
	msg := evaluate[string](t, ctx, `document.querySelector('[data-message="error"]').textContent`)
	if !strings.Contains(msg, "declined") || !strings.Contains(msg, "cart is unchanged") {
		t.Errorf("after a declined card the page says %q", msg)
	}
	steps(t, ctx, time.Minute, chromedp.Navigate(platform.GatewayURL+"/cart"), chromedp.WaitVisible(css("[data-cart]")))
	if q := evaluate[string](t, ctx, `document.querySelector('form[data-product-id="SKU-00007"] input[name="quantity"]').value`); q != "2" {
		t.Errorf("the cart after the decline holds %q of SKU-00007, want 2", q)
	}
	if n := evaluate[int](t, ctx, `document.querySelectorAll("[data-cart] li.line").length`); n != 1 {
		t.Errorf("the cart after the decline has %d lines, want 1", n)
	}
}

// A sold-out item is said to be sold out, and the cart stays as it was.
func TestStorefront_OutOfStockIsSaid(t *testing.T) {
	ctx, _ := chromium(t, 1280)
	s := shopperSteps{t, ctx}
	op := newOperator(t)
	s.signUp()
	op.restock(t, "SKU-00009")
	steps(t, ctx, time.Minute,
		chromedp.Navigate(platform.GatewayURL+"/products/SKU-00009"),
		chromedp.WaitVisible(css("#quantity")),
		chromedp.Click(css(`form[data-action="add-to-cart"] button`)),
		until(`document.querySelector("[data-cart-count]").textContent === "1"`),
	)
	if err := op.stock.SetStock(context.Background(), map[string]int32{"SKU-00009": 0}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.restock(t, "SKU-00009") })
	s.fillCheckout("4242 4242 4242 4242")
	steps(t, ctx, time.Minute,
		chromedp.Click(css(`form[data-action="checkout"] button[type="submit"]`)),
		chromedp.WaitVisible(css(`[data-message="error"]`)),
	)
	msg := evaluate[string](t, ctx, `document.querySelector('[data-message="error"]').textContent`)
	if !strings.Contains(msg, "stock") || !strings.Contains(msg, "cart is unchanged") {
		t.Errorf("after checking out a sold-out item the page says %q", msg)
	}
}

// A product whose name is markup shows as text: nothing of it becomes an
// element and no script of it runs.
func TestStorefront_MarkupInAProductNameIsText(t *testing.T) {
	ctx, _ := chromium(t, 1280)
	op := newOperator(t)
	name := `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>Markup Lamp <b>bold</b>`
	id := op.newProduct(t, name)
	for _, page := range []string{"/products/" + id, "/?q=Markup&category=home"} {
		steps(t, ctx, time.Minute, chromedp.Navigate(platform.GatewayURL+page), chromedp.WaitVisible(css("[data-product-name]")))
		shown := evaluate[[]string](t, ctx, `[...document.querySelectorAll("[data-product-name]")].map(e => e.textContent)`)
		if !slices.Contains(shown, name) {
			t.Errorf("%s shows the names %q, not %q as text", page, shown, name)
		}
		if n := evaluate[int](t, ctx, `document.querySelectorAll("main img, main script, main b").length`); n != 0 {
			t.Errorf("%s: the name became %d elements", page, n)
		}
		if title := evaluate[string](t, ctx, `document.title`); title == "pwned" {
			t.Errorf("%s: a script of the name ran", page)
		}
	}
}

// The main pages at a laptop's and a phone's width: screenshots into the
// artefacts, and no page wider than the window.
func TestStorefront_ScreenshotsAtLaptopAndPhoneWidth(t *testing.T) {
	ctx, _ := chromium(t, 1280)
	s := shopperSteps{t, ctx}
	op := newOperator(t)
	s.signUp()
	s.search("desk")
	a := s.addFirstResult(1)
	s.search("tent")
	b := s.addFirstResult(2)
	op.restock(t, a, b, "SKU-00042")
	widths := []int64{1280, 390}
	shoot := func(name, path, ready string) {
		for _, w := range widths {
			steps(t, ctx, time.Minute,
				chromedp.EmulateViewport(w, 900),
				chromedp.Navigate(platform.GatewayURL+path),
				chromedp.WaitVisible(css(ready)),
				chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`),
			)
			if over := evaluate[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
				t.Errorf("%s at %d px is %d px wider than the window", path, w, over)
			}
			t.Logf("%s at %d px: %s", path, w, saveScreenshot(t, ctx, fmt.Sprintf("storefront-%s-%d", name, w)))
			if w == widths[0] {
				// The page's weight: its HTML and every file it loaded, as sent (no
				// compression), the API calls and span exports aside.
				weight := evaluate[map[string]int](t, ctx, `(() => {
					const out = {html: performance.getEntriesByType("navigation")[0].encodedBodySize, files: 0};
					for (const r of performance.getEntriesByType("resource"))
						if (r.name.includes("/static/")) out.files += r.encodedBodySize;
					return out; })()`)
				t.Logf("%s weighs %d bytes: HTML %d, static files %d", path, weight["html"]+weight["files"], weight["html"], weight["files"])
			}
		}
	}
	shoot("home", "/", "[data-products]")
	shoot("product", "/products/SKU-00042", ".product")
	shoot("cart", "/cart", "[data-cart]")
	shoot("checkout", "/checkout", ".checkout-form")
	steps(t, ctx, time.Minute, chromedp.EmulateViewport(1280, 900))
	s.fillCheckout("4242 4242 4242 4242")
	orderID, traceID := s.placeOrder()
	steps(t, ctx, 90*time.Second, chromedp.WaitVisible(css("[data-shipment-carrier]")))
	shoot("order", "/orders/"+orderID+"?placed=1&trace="+traceID, "[data-shipment-carrier]")
	shoot("orders", "/orders", "[data-orders]")
}

// saveScreenshot writes the whole page as a PNG into the artefacts directory:
// E2E_ARTIFACTS, else bin/e2e-artifacts of the repository.
func saveScreenshot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	dir := os.Getenv("E2E_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "bin", "e2e-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Errorf("artefacts: %v", err)
		return ""
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
	}
	abs, _ := filepath.Abs(path)
	return abs
}

// The browsers' spans arrive as the storefront's, whatever they claim: Jaeger
// lists the storefront with its page loads, API calls and web vitals, its span
// metrics reach Prometheus, and a span that says it is payments' is still the
// storefront's.
func TestStorefront_BrowserSpansAreTheStorefronts(t *testing.T) {
	traceID, spanName := shoptest.RandomHex(16), "spoofed "+shoptest.RandomHex(4)
	now := time.Now().UnixNano()
	export := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"payments"}}]},
		"scopeSpans":[{"scope":{"name":"e2e"},"spans":[{"traceId":%q,"spanId":%q,"name":%q,"kind":1,
		"startTimeUnixNano":"%d","endTimeUnixNano":"%d"}]}]}]}`, traceID, shoptest.RandomHex(8), spanName, now, now+int64(time.Millisecond))
	resp, err := http.Post(platform.GatewayURL+"/otlp/v1/traces", "application/json", bytes.NewReader([]byte(export)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("an OTLP/JSON export to the gateway: %d", resp.StatusCode)
	}
	eventually(t, func() error {
		tr, err := jaegerTrace1(traceID)
		if err != nil {
			return err
		}
		if svc := tr.Processes[tr.Spans[0].ProcessID].ServiceName; len(tr.Spans) != 1 || svc != "storefront" {
			return fmt.Errorf("the span that claimed to be payments' is stored as %s's, want the storefront's", svc)
		}
		return nil
	})

	needChromium(t) // the rest looks for what the browser tests' pages sent
	eventually(t, func() error {
		var ops struct{ Data []string }
		if err := shoptest.GetJSON(context.Background(), platform.JaegerURL+"/api/services/storefront/operations", &ops); err != nil {
			return err
		}
		have := map[string]bool{}
		for _, op := range ops.Data {
			have[op] = true
		}
		want := []string{"documentLoad", "documentFetch", "resourceFetch", "checkout", "POST /api/checkout",
			"signup", "POST /session", "add-to-cart", "POST /api/cart/items", "web-vital LCP", "web-vital CLS"}
		if m := missing(have, want); len(m) > 0 {
			return fmt.Errorf("Jaeger has no storefront spans %v (has %v)", m, ops.Data)
		}
		return nil
	})

	// A page load is one trace: the gateway's span that rendered the page, and
	// under it the browser's document load.
	loads := jaegerTraces(t, "/api/traces?service=storefront&operation=documentLoad&limit=20&lookback=1h")
	found := false
	for _, tr := range loads {
		for _, s := range tr.Spans {
			if s.OperationName != "documentLoad" {
				continue
			}
			for _, ref := range s.References {
				for _, p := range tr.Spans {
					if p.SpanID == ref.SpanID && tr.Processes[p.ProcessID].ServiceName == "gateway" && strings.HasPrefix(p.OperationName, "GET /") {
						found = true
					}
				}
			}
		}
	}
	if !found {
		t.Errorf("none of %d page-load traces has the browser's documentLoad under the gateway's page span", len(loads))
	}

	// The collector's span metrics give the storefront its RED series, as any
	// service, and the web vitals' durations: each with two points at least, so
	// that a rate or a quantile over them has an answer.
	eventually(t, func() error {
		points := query(t, `count_over_time(traces_span_metrics_duration_milliseconds_count{service_name="storefront"}[15m])`)
		enough := map[string]bool{}
		for _, p := range points {
			if p.float() >= 2 {
				enough[p.Metric["span_name"]] = true
			}
		}
		if m := missing(enough, []string{"checkout", "POST /api/checkout", "documentLoad", "web-vital LCP"}); len(m) > 0 {
			return fmt.Errorf("too few span metrics of the storefront's %v yet", m)
		}
		return nil
	})
	lcp := query(t, `histogram_quantile(0.75, sum by (le) (rate(traces_span_metrics_duration_milliseconds_bucket{service_name="storefront", span_name="web-vital LCP"}[15m])))`)
	if len(lcp) != 1 || lcp[0].float() <= 0 {
		t.Errorf("the storefront's LCP p75 from span metrics: %v", lcp)
	}
}
