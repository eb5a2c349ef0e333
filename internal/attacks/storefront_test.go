package attacks_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/otelshop/shop/internal/shoptest"
	"github.com/otelshop/shop/services/gateway/storefront"
)

// collectorDoor stands where the collector's OTLP/HTTP receiver would be, so
// that a test sees exactly what the gateway lets through to it and can make it
// refuse; the path to the real collector is proven end to end (e2e, storefront).
type collectorDoor struct {
	*httptest.Server
	mu       sync.Mutex
	received []*coltracepb.ExportTraceServiceRequest
	answer   func(w http.ResponseWriter) // nil: 200 with an empty response
}

func newCollectorDoor(t *testing.T) *collectorDoor {
	d := &collectorDoor{}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		export := &coltracepb.ExportTraceServiceRequest{}
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, export) != nil {
			http.Error(w, "not an OTLP/HTTP trace export", http.StatusBadRequest)
			return
		}
		d.mu.Lock()
		d.received = append(d.received, export)
		answer := d.answer
		d.mu.Unlock()
		if answer != nil {
			answer(w)
			return
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Write(b)
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *collectorDoor) exports() []*coltracepb.ExportTraceServiceRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*coltracepb.ExportTraceServiceRequest(nil), d.received...)
}

func (d *collectorDoor) refuseWith(answer func(w http.ResponseWriter)) {
	d.mu.Lock()
	d.answer = answer
	d.mu.Unlock()
}

// spansJSON is an OTLP/JSON export of n spans, as the storefront's exporter sends it.
func spansJSON(n int, service string) []byte {
	var spans []string
	now := time.Now().UnixNano()
	for range n {
		spans = append(spans, fmt.Sprintf(`{"traceId":%q,"spanId":%q,"name":"GET /api/products","kind":3,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"}`,
			shoptest.RandomHex(16), shoptest.RandomHex(8), now, now+1000))
	}
	return []byte(fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":%q}}]},"scopeSpans":[{"spans":[%s]}]}]}`,
		service, strings.Join(spans, ",")))
}

func post(t *testing.T, url string, body []byte, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

var (
	jsonType  = http.Header{"Content-Type": {"application/json"}}
	protoType = http.Header{"Content-Type": {"application/x-protobuf"}}
)

// POST /otlp/v1/traces takes bounded OTLP trace exports and nothing else: not
// another content type, not a compressed or oversized body, not logs or
// metrics, not a body that merely looks like JSON; whatever it refuses never
// reaches the collector. What it takes, it takes as the storefront's.
func TestBrowserTraces_OnlyBoundedOTLPTraces(t *testing.T) {
	door := newCollectorDoor(t)
	s := shoptest.Start(t, shoptest.Options{Env: map[string]string{"BROWSER_TRACES_URL": door.URL + "/v1/traces"}})
	traces := s.GatewayURL + "/otlp/v1/traces"
	logs, err := proto.Marshal(&collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{
		LogRecords: []*logspb.LogRecord{{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "from a browser"}}}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	huge := spansJSON(1500, "storefront") // about 300 KiB
	for _, tt := range []struct {
		name   string
		url    string
		body   []byte
		header http.Header
		status int
	}{
		{"oversized, by Content-Length", traces, huge, jsonType, http.StatusRequestEntityTooLarge},
		{"oversized, chunked", traces, huge, http.Header{"Content-Type": {"application/json"}, "Transfer-Encoding": {"chunked"}}, http.StatusRequestEntityTooLarge},
		{"no content type", traces, spansJSON(1, "storefront"), http.Header{}, http.StatusUnsupportedMediaType},
		{"text/plain (what a form may send across sites)", traces, spansJSON(1, "storefront"), http.Header{"Content-Type": {"text/plain"}}, http.StatusUnsupportedMediaType},
		{"a form", traces, []byte("a=1"), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, http.StatusUnsupportedMediaType},
		{"gRPC framing", traces, []byte{0, 0, 0, 0, 0}, http.Header{"Content-Type": {"application/grpc"}}, http.StatusUnsupportedMediaType},
		{"gzip", traces, spansJSON(1, "storefront"), http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}}, http.StatusUnsupportedMediaType},
		{"JSON that is not OTLP", traces, []byte(`{"query":"DROP TABLE spans"}`), jsonType, http.StatusBadRequest},
		{"OTLP metrics as JSON", traces, []byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x"}]}]}]}`), jsonType, http.StatusBadRequest},
		{"OTLP logs as protobuf", traces, logs, protoType, http.StatusBadRequest},
		{"logs to their own path", s.GatewayURL + "/otlp/v1/logs", logs, protoType, http.StatusNotFound},
		{"metrics to their own path", s.GatewayURL + "/otlp/v1/metrics", []byte(`{"resourceMetrics":[]}`), jsonType, http.StatusNotFound},
		{"the collector's own path", s.GatewayURL + "/v1/traces", spansJSON(1, "storefront"), jsonType, http.StatusNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if resp := post(t, tt.url, tt.body, tt.header); resp.StatusCode != tt.status {
				t.Errorf("%d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
	if n := len(door.exports()); n != 0 {
		t.Fatalf("%d refused requests reached the collector", n)
	}
	if resp, err := http.Get(traces); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET %s: %v %v, want 404", traces, resp.StatusCode, err)
	}

	// An export that claims to be payments' arrives as the storefront's.
	if resp := post(t, traces, spansJSON(2, "payments"), jsonType); resp.StatusCode != http.StatusOK {
		t.Fatalf("a good export: %d", resp.StatusCode)
	}
	got := door.exports()
	if len(got) != 1 || len(got[0].ResourceSpans[0].ScopeSpans[0].Spans) != 2 {
		t.Fatalf("the collector got %d exports, want 1 of 2 spans", len(got))
	}
	for _, kv := range got[0].ResourceSpans[0].Resource.Attributes {
		if kv.Key == "service.name" && kv.Value.GetStringValue() != "storefront" {
			t.Errorf("forwarded as service.name %q", kv.Value.GetStringValue())
		}
	}
}

// Anyone may post spans, so each address has a budget of its own.
func TestBrowserTraces_RateLimitedPerAddress(t *testing.T) {
	door := newCollectorDoor(t)
	s := shoptest.Start(t, shoptest.Options{Env: map[string]string{"BROWSER_TRACES_URL": door.URL + "/v1/traces",
		"TRACES_RATE_LIMIT_RPS": "1", "TRACES_RATE_LIMIT_BURST": "3"}})
	limited := 0
	for range 10 {
		resp := post(t, s.GatewayURL+"/otlp/v1/traces", spansJSON(1, "storefront"), jsonType)
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
	}
	if limited < 6 || len(door.exports()) > 4 {
		t.Errorf("%d of 10 exports beyond a burst of 3 limited, %d forwarded", limited, len(door.exports()))
	}
}

// What the collector refuses, or cannot be given, is counted by outcome, and the
// browser told whether to retry (503, Retry-After) or to drop (400).
func TestBrowserTraces_RefusalsAreCounted(t *testing.T) {
	door := newCollectorDoor(t)
	s := shoptest.Start(t, shoptest.Options{Env: map[string]string{"BROWSER_TRACES_URL": door.URL + "/v1/traces"}})
	url := s.GatewayURL + "/otlp/v1/traces"

	door.refuseWith(func(w http.ResponseWriter) { http.Error(w, "memory limit", http.StatusServiceUnavailable) })
	if resp := post(t, url, spansJSON(3, "storefront"), jsonType); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("the collector shedding load: %d %v, want 503 with Retry-After", resp.StatusCode, resp.Header)
	}
	door.refuseWith(func(w http.ResponseWriter) { http.Error(w, "bad data", http.StatusBadRequest) })
	if resp := post(t, url, spansJSON(2, "storefront"), jsonType); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the collector refusing the data: %d, want 400", resp.StatusCode)
	}
	door.refuseWith(func(w http.ResponseWriter) {
		b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{RejectedSpans: 1, ErrorMessage: "one too old"}})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(b)
	})
	if resp := post(t, url, spansJSON(4, "storefront"), jsonType); resp.StatusCode != http.StatusOK {
		t.Errorf("a partial success: %d, want 200", resp.StatusCode)
	}
	want := map[string]int64{"refused": 3 + 2 + 1, "forwarded": 3}

	// A collector that is not there: the spans are undelivered, the browser may retry.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	ln.Close()
	s2 := shoptest.Start(t, shoptest.Options{Env: map[string]string{"BROWSER_TRACES_URL": "http://" + gone + "/v1/traces"}})
	if resp := post(t, s2.GatewayURL+"/otlp/v1/traces", spansJSON(5, "storefront"), jsonType); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("no collector: %d, want 503", resp.StatusCode)
	}

	for shop, counts := range map[*shoptest.Shop]map[string]int64{s: want, s2: {"undelivered": 5}} {
		got := browserSpans(t, shop)
		for outcome, n := range counts {
			if got[outcome] != n {
				t.Errorf("shop.gateway.browser_spans{outcome=%q} = %d, want %d (all: %v)", outcome, got[outcome], n, got)
			}
		}
	}
}

// browserSpans reads shop.gateway.browser_spans by outcome.
func browserSpans(t *testing.T, s *shoptest.Shop) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, sm := range s.Metrics(t, "gateway").ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if m.Name != "shop.gateway.browser_spans" || !ok {
				continue
			}
			for _, p := range sum.DataPoints {
				outcome, _ := p.Attributes.Value(attribute.Key("outcome"))
				out[outcome.AsString()] += p.Value
			}
		}
	}
	return out
}

// The session cookie counts only from the storefront's own pages: without the
// CSRF header, from another site or origin, or in a form's text/plain body, a
// request with it changes nothing; the token it holds is never on a page, in a
// span or in a log; and a forged cookie is nobody.
func TestSessionCookie_NoCrossSiteUse(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	c := s.NewShopper(t)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path, body string, header http.Header) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, s.GatewayURL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	creds := fmt.Sprintf(`{"email":%q,"password":%q}`, c.Email, c.Password)
	page := http.Header{"Content-Type": {"application/json"}, storefront.CSRFHeader: {"1"}}

	// Logging a victim in to the attacker's account (login CSRF) needs the header too.
	for name, h := range map[string]http.Header{
		"no header":                {"Content-Type": {"application/json"}},
		"a form's text/plain":      {"Content-Type": {"text/plain"}, storefront.CSRFHeader: {"1"}},
		"from another site":        {"Content-Type": {"application/json"}, storefront.CSRFHeader: {"1"}, "Sec-Fetch-Site": {"cross-site"}},
		"from another origin":      {"Content-Type": {"application/json"}, storefront.CSRFHeader: {"1"}, "Origin": {"https://evil.example"}},
		"the header's other value": {"Content-Type": {"application/json"}, storefront.CSRFHeader: {"true"}},
	} {
		if status, body := send("POST", "/session", creds, h); status < 400 || status >= 500 {
			t.Errorf("sign in with %s: %d %.200s, want a 4xx", name, status, body)
		}
	}
	if status, body := send("POST", "/session", creds, page); status != http.StatusOK {
		t.Fatalf("sign in from the page: %d %s", status, body)
	}
	u, _ := url.Parse(s.GatewayURL)
	var token string
	for _, ck := range jar.Cookies(u) {
		if ck.Name == storefront.SessionCookie {
			token = ck.Value
		}
	}
	if token == "" {
		t.Fatal("no session cookie")
	}

	item := `{"product_id":"SKU-00012","quantity":1}`
	checkout := `{"payment":{"card_number":"4242424242424242","expiry":"12/39","cvc":"123"},"shipping_address":{"name":"A","line1":"B","city":"C","postal_code":"D","country":"DE"}}`
	for _, tt := range []struct{ name, method, path, body string }{
		{"add to the cart", "POST", "/api/cart/items", item},
		{"empty the cart", "DELETE", "/api/cart", ""},
		{"check out", "POST", "/api/checkout", checkout},
		{"read the orders", "GET", "/api/orders", ""},
		{"read the profile", "GET", "/api/users/me", ""},
		{"sign out", "DELETE", "/session", ""},
	} {
		for name, h := range map[string]http.Header{
			"no header":           {"Content-Type": {"application/json"}},
			"from another site":   {"Content-Type": {"application/json"}, storefront.CSRFHeader: {"1"}, "Sec-Fetch-Site": {"cross-site"}},
			"from another origin": {"Content-Type": {"application/json"}, storefront.CSRFHeader: {"1"}, "Origin": {"http://127.0.0.2:8080"}},
		} {
			if status, body := send(tt.method, tt.path, tt.body, h); status != http.StatusForbidden {
				t.Errorf("%s with the cookie and %s: %d %.200s, want 403", tt.name, name, status, body)
			}
		}
	}
	var orders struct{ Orders []struct{ ID string } }
	c.Do("GET", "/api/orders", nil, nil).Decode(t, &orders)
	var cart struct{ Items []struct{} }
	c.Do("GET", "/api/cart", nil, nil).Decode(t, &cart)
	if len(orders.Orders) != 0 || len(cart.Items) != 0 {
		t.Errorf("the refused requests changed something: %d orders, %d cart items", len(orders.Orders), len(cart.Items))
	}

	// From the page it works, and the token stays out of pages and signals.
	if status, body := send("POST", "/api/cart/items", item, page); status != http.StatusOK {
		t.Fatalf("add to the cart from the page: %d %s", status, body)
	}
	for _, path := range []string{"/", "/cart", "/checkout", "/products/SKU-00012", "/orders"} {
		if status, body := send("GET", path, "", nil); status != http.StatusOK || strings.Contains(body, token) {
			t.Errorf("%s: %d, token on the page: %v", path, status, strings.Contains(body, token))
		}
	}
	s.Flush(t)
	for _, sp := range s.Spans.GetSpans() {
		for _, kv := range sp.Attributes {
			if strings.Contains(kv.Value.Emit(), token[len(token)-20:]) {
				t.Errorf("span %s carries the session token in %s", sp.Name, kv.Key)
			}
		}
	}
	for _, r := range s.Logs.Records() {
		if strings.Contains(r.Body().AsString(), token[len(token)-20:]) {
			t.Errorf("a log record carries the session token")
		}
	}
	if strings.Contains(s.Stdout.String(), token[len(token)-20:]) {
		t.Error("stdout carries the session token")
	}

	// A cookie an attacker makes up is nobody's.
	forged := &http.Client{}
	req, _ := http.NewRequest("GET", s.GatewayURL+"/api/cart", nil)
	req.Header.Set(storefront.CSRFHeader, "1")
	req.AddCookie(&http.Cookie{Name: storefront.SessionCookie, Value: hs256(t, "guess", forgedUser)})
	if resp, err := forged.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a forged session cookie: %v %v, want 401", resp.StatusCode, err)
	}
}

// The pages send nobody elsewhere and reflect nothing as markup: a sign-in that
// would return to another site returns home, a trace id that is not one is not
// shown, a search is text.
func TestStorefrontPages_NoOpenRedirectNoReflection(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(s.GatewayURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for _, next := range []string{"//evil.example/", "https://evil.example/", `/\evil.example`, "javascript:alert(1)", "/%2F%2Fevil.example",
		`"><script>alert(1)</script>`, "/signin?next=//evil.example"} {
		body := get("/signin?next=" + url.QueryEscape(next))
		if !strings.Contains(body, `data-next="/"`) || strings.Contains(body, "evil.example") || strings.Contains(body, "<script>alert") {
			t.Errorf("sign in with next=%q leads elsewhere or reflects it", next)
		}
	}
	if body := get("/?q=" + url.QueryEscape(`<svg onload=alert(1)>`)); strings.Contains(body, "<svg") {
		t.Error("a search is reflected as markup")
	}
	c := s.NewShopper(t)
	c.AddToCart("SKU-00013", 1)
	var order struct{ ID string }
	c.Do("POST", "/api/checkout", shoptest.CheckoutBody(""), nil).Decode(t, &order)
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(s.GatewayURL)
	jar.SetCookies(u, []*http.Cookie{{Name: storefront.SessionCookie, Value: c.Token, Path: "/"}})
	hc := &http.Client{Jar: jar}
	for _, trace := range []string{`"><script>alert(1)</script>`, strings.Repeat("z", 32), strings.Repeat("AB", 16), hex.EncodeToString(make([]byte, 16))} {
		resp, err := hc.Get(s.GatewayURL + "/orders/" + order.ID + "?placed=1&trace=" + url.QueryEscape(trace))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || strings.Contains(string(b), "data-trace-id") || strings.Contains(string(b), "<script>alert") {
			t.Errorf("order page with trace=%q: %d, shown or reflected", trace, resp.StatusCode)
		}
	}
}
