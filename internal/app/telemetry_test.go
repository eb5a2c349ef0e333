package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/shoptest"
)

// checkoutAndShip places one order and waits for its shipment, then flushes every signal.
func checkoutAndShip(t *testing.T, s *shoptest.Shop, c *shoptest.Client, card string) string {
	t.Helper()
	c.AddToCart("SKU-00005", 2)
	r := c.Do("POST", "/api/checkout", shoptest.CheckoutBody(card), nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("checkout: %d %s", r.Status, r.Body)
	}
	var o struct{ ID string }
	r.Decode(t, &o)
	shoptest.Eventually(t, 15*time.Second, func() error {
		if r := c.Do("GET", "/api/orders/"+o.ID+"/shipment", nil, nil); r.Status != http.StatusOK {
			return fmt.Errorf("no shipment yet: %d", r.Status)
		}
		return nil
	})
	s.Flush(t)
	return o.ID
}

func serviceOf(s tracetest.SpanStub) string {
	v, _ := s.Resource.Set().Value("service.name")
	return v.AsString()
}

func attr(s tracetest.SpanStub, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// One checkout is one trace from the gateway through orders, cart, catalog, inventory
// (gRPC), payments, PostgreSQL, the outbox relay, RabbitMQ and shipping, with every
// span's parent in the trace.
func TestCheckout_OneTraceAcrossEveryHop(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	c := s.NewShopper(t)
	checkoutAndShip(t, s, c, "")

	spans := s.Spans.GetSpans()
	var root *tracetest.SpanStub
	for i, sp := range spans {
		if serviceOf(sp) == "gateway" && sp.Name == "POST /api/checkout" && sp.SpanKind == trace.SpanKindServer {
			root = &spans[i]
		}
	}
	if root == nil {
		t.Fatalf("no gateway server span named 'POST /api/checkout' among %d spans", len(spans))
	}
	if root.Parent.IsValid() {
		t.Errorf("the gateway's span has a parent %s; the trace should start there", root.Parent.SpanID())
	}
	inTrace := map[trace.SpanID]tracetest.SpanStub{}
	for _, sp := range spans {
		if sp.SpanContext.TraceID() == root.SpanContext.TraceID() {
			inTrace[sp.SpanContext.SpanID()] = sp
		}
	}
	services := map[string]bool{}
	var names []string
	dbBy := map[string]bool{}
	for _, sp := range inTrace {
		services[serviceOf(sp)] = true
		names = append(names, serviceOf(sp)+": "+sp.Name)
		if sp.Parent.IsValid() {
			if _, ok := inTrace[sp.Parent.SpanID()]; !ok {
				t.Errorf("orphan span %q of %s: parent %s is not in the trace", sp.Name, serviceOf(sp), sp.Parent.SpanID())
			}
		} else if sp.SpanContext.SpanID() != root.SpanContext.SpanID() {
			t.Errorf("second root span %q of %s", sp.Name, serviceOf(sp))
		}
		if v, ok := attr(sp, "db.system.name"); ok && v.AsString() == "postgresql" {
			dbBy[serviceOf(sp)] = true
		}
	}
	sort.Strings(names)
	for _, want := range []string{"gateway", "orders", "cart", "catalog", "inventory", "payments", "shipping"} {
		if !services[want] {
			t.Errorf("the checkout trace has no span of %s", want)
		}
	}
	for _, want := range []string{"orders", "inventory", "payments", "shipping"} {
		if !dbBy[want] {
			t.Errorf("the checkout trace has no PostgreSQL span of %s", want)
		}
	}
	for _, want := range []string{
		"gateway: POST /api/checkout",
		"orders: POST /v1/checkout",
		"orders: shop.inventory.v1.Inventory/Reserve",
		"inventory: shop.inventory.v1.Inventory/Reserve",
		"inventory: shop.inventory.v1.Inventory/Commit",
		"orders: POST /v1/charges",
		"payments: POST /v1/charges",
		"payments: processor authorize",
		"orders: outbox relay order.placed",
		"orders: publish order.placed",
		"shipping: process order.placed",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("no span %q in the checkout trace", want)
		}
	}
	for _, sp := range inTrace {
		switch sp.Name {
		case "publish order.placed":
			if sp.SpanKind != trace.SpanKindProducer {
				t.Errorf("publish span kind %v, want producer", sp.SpanKind)
			}
			if v, _ := attr(sp, "messaging.system"); v.AsString() != "rabbitmq" {
				t.Errorf("publish span messaging.system %q", v.AsString())
			}
		case "process order.placed":
			if sp.SpanKind != trace.SpanKindConsumer {
				t.Errorf("process span kind %v, want consumer", sp.SpanKind)
			}
		}
	}
	if t.Failed() {
		t.Logf("spans in the trace:\n%s", strings.Join(names, "\n"))
	}
}

// The metrics a dashboard needs exist with the attributes it groups by.
func TestMetrics_ExpectedNamesAndAttributes(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	c := s.NewShopper(t)
	checkoutAndShip(t, s, c, "")
	declined := s.NewShopper(t)
	declined.AddToCart("SKU-00006", 1)
	declined.Do("POST", "/api/checkout", shoptest.CheckoutBody("4000000000000002"), nil)

	want := map[string]map[string][]string{ // service → metric → attribute keys it must carry
		"gateway":   {"http.server.request.duration": {"http.route", "http.request.method", "http.response.status_code"}, "http.client.request.duration": {"server.address"}},
		"users":     {"http.server.request.duration": {"http.route"}, "shop.users.registrations": nil, "shop.users.logins": {"outcome"}},
		"catalog":   {"http.server.request.duration": {"http.route"}, "shop.catalog.cache.requests": {"result"}},
		"cart":      {"http.server.request.duration": {"http.route"}, "shop.cart.additions": nil},
		"inventory": {"rpc.server.call.duration": {"rpc.method"}, "shop.inventory.reservations": {"operation", "outcome"}},
		"orders":    {"http.server.request.duration": {"http.route"}, "shop.orders.placed": nil, "shop.orders.failed": {"reason"}, "shop.orders.revenue": nil, "shop.checkout.duration": {"outcome"}, "shop.outbox.published": {"routing_key"}},
		"payments":  {"http.server.request.duration": {"http.route"}, "shop.payments.charges": {"outcome", "reason"}},
		"shipping":  {"shop.shipping.shipments": {"carrier"}, "shop.messaging.processed": {"queue", "outcome"}},
		"shop":      {"go.goroutine.count": nil},
	}
	for service, metrics := range want {
		rm := s.Metrics(t, service)
		found := map[string][]attribute.Set{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				found[m.Name] = append(found[m.Name], shoptest.AttributeSets(m.Data)...)
			}
		}
		for name, keys := range metrics {
			sets, ok := found[name]
			if !ok {
				t.Errorf("%s: no metric %s (have %v)", service, name, slices.Sorted(maps.Keys(found)))
				continue
			}
			for _, key := range keys {
				if !slices.ContainsFunc(sets, func(s attribute.Set) bool { return s.HasValue(attribute.Key(key)) }) {
					t.Errorf("%s: %s has no data point with attribute %s", service, name, key)
				}
			}
		}
		checkBoundedAttributes(t, service, found)
	}
	// The server duration histogram is by route, never by raw path.
	for _, set := range s.MetricAttributeSets(t, "gateway", "http.server.request.duration") {
		if v, ok := set.Value("http.route"); ok && strings.Contains(v.AsString(), "SKU-") {
			t.Errorf("http.route %q holds a raw path", v.AsString())
		}
	}
	// The admin endpoint serves the Go and process collectors for Prometheus to scrape.
	resp, err := http.Get(s.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if !strings.Contains(string(body), "\n"+name+" ") {
			t.Errorf("/metrics has no %s", name)
		}
	}
}

var highCardinality = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-|@|SKU-\d|TEST-|eyJ|\d{6,}`)

// checkBoundedAttributes fails on metric attribute values that look like ids, emails,
// tokens or raw paths: they would make series without bound.
func checkBoundedAttributes(t *testing.T, service string, found map[string][]attribute.Set) {
	t.Helper()
	for name, sets := range found {
		for _, set := range sets {
			for _, kv := range set.ToSlice() {
				if highCardinality.MatchString(kv.Value.Emit()) {
					t.Errorf("%s: metric %s has unbounded attribute %s=%q", service, name, kv.Key, kv.Value.Emit())
				}
			}
		}
	}
}

// Logs written inside a request carry its trace: on stdout as trace_id and span_id, and
// through OTLP as the record's trace context.
func TestLogs_InsideRequestsCarryTraceIDs(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	c := s.NewShopper(t)
	orderID := checkoutAndShip(t, s, c, "")

	traceIDs := map[string]bool{}
	for _, sp := range s.Spans.GetSpans() {
		traceIDs[sp.SpanContext.TraceID().String()] = true
	}
	var placedLine map[string]any
	for _, line := range strings.Split(s.Stdout.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec["msg"] == "order placed" && rec["order_id"] == orderID {
			placedLine = rec
		}
	}
	if placedLine == nil {
		t.Fatal("no 'order placed' line on stdout")
	}
	tid, _ := placedLine["trace_id"].(string)
	if !traceIDs[tid] || placedLine["span_id"] == nil {
		t.Errorf("'order placed' on stdout has trace_id %q span_id %v; want ids of an exported span", tid, placedLine["span_id"])
	}

	var placed []sdklog.Record
	for _, r := range s.Logs.Records() {
		if r.Body().AsString() == "order placed" {
			placed = append(placed, r)
		}
	}
	if len(placed) != 1 {
		t.Fatalf("%d 'order placed' OTLP records, want 1", len(placed))
	}
	if got := placed[0].TraceID().String(); got != tid {
		t.Errorf("OTLP record trace id %s, stdout says %s", got, tid)
	}
	for _, r := range s.Logs.Records() {
		if r.Body().AsString() == "shipment created" && !traceIDs[r.TraceID().String()] {
			t.Errorf("'shipment created' has trace id %s, which no exported span has", r.TraceID())
		}
	}
}

// Personal data planted in requests appears in no span, metric or log, stdout included.
func TestSignals_CarryNoPersonalData(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	const (
		email    = "planted.person.7731@example.org"
		password = "planted-Pa55word-9146"
		name     = "Plantedname Zebulon"
		street   = "77 Plantedstreet Road"
		card     = "4556737586899855" // Luhn-valid, succeeds
	)
	// Each request plants the data in a different place; each must have been
	// answered as intended, or the data never reached the code under test.
	expect := func(r shoptest.Response, status int, what string) shoptest.Response {
		t.Helper()
		if r.Status != status {
			t.Fatalf("%s: %d %s, want %d", what, r.Status, r.Body, status)
		}
		return r
	}
	anon := s.Anonymous(t)
	expect(anon.Do("POST", "/api/users/register", map[string]string{"email": email, "password": password, "name": name}, nil), 201, "register")
	expect(anon.Do("POST", "/api/users/register", map[string]string{"email": email, "password": password, "name": name}, nil), 409, "register again")
	expect(anon.Do("POST", "/api/users/login", map[string]string{"email": email, "password": "wrong-" + password}, nil), 401, "wrong password")
	var login struct{ Token string }
	expect(anon.Do("POST", "/api/users/login", map[string]string{"email": email, "password": password}, nil), 200, "login").Decode(t, &login)
	c := s.Anonymous(t)
	c.Token = login.Token
	expect(c.Do("GET", "/api/users/me", nil, nil), 200, "me")
	c.AddToCart("SKU-00007", 1)
	body := shoptest.CheckoutBody(card)
	body["shipping_address"] = map[string]string{"name": name, "line1": street, "city": "Berlin", "postal_code": "10115", "country": "DE"}
	var order struct{ ID string }
	expect(c.Do("POST", "/api/checkout", body, nil), 201, "checkout").Decode(t, &order)
	c.AddToCart("SKU-00007", 1)
	body["payment"] = map[string]string{"card_number": card[:15] + "0", "expiry": "12/39", "cvc": "123"} // not Luhn-valid
	expect(c.Do("POST", "/api/checkout", body, nil), 400, "checkout with a bad card")
	expect(c.Do("POST", "/api/cart/items", []byte(`{"product_id":"`+email+`","quantity":1}`), nil), 400, "an email as product id")
	// The address travels in order.placed to shipping: wait until it has been handled.
	shoptest.Eventually(t, 15*time.Second, func() error {
		if r := c.Do("GET", "/api/orders/"+order.ID+"/shipment", nil, nil); r.Status != http.StatusOK {
			return fmt.Errorf("no shipment yet: %d", r.Status)
		}
		return nil
	})
	s.Flush(t)

	planted := []string{email, password, name, street, card, login.Token, strings.Split(email, "@")[0]}
	search := func(where, text string) {
		for _, p := range planted {
			if strings.Contains(strings.ToLower(text), strings.ToLower(p)) {
				t.Errorf("%s contains planted %q: %.300s", where, p, text)
			}
		}
	}
	seen := map[string]int{}
	for _, sp := range s.Spans.GetSpans() {
		seen["spans"]++
		b, _ := json.Marshal(struct {
			Name   string
			Attrs  []attribute.KeyValue
			Events any
			Links  any
			Status any
			Res    []attribute.KeyValue
		}{sp.Name, sp.Attributes, sp.Events, sp.Links, sp.Status, sp.Resource.Attributes()})
		search("span "+sp.Name, string(b))
	}
	for _, service := range append([]string{"shop"}, app.Names()...) {
		for _, sm := range s.Metrics(t, service).ScopeMetrics {
			for _, m := range sm.Metrics {
				for _, set := range shoptest.AttributeSets(m.Data) {
					seen["metric attribute sets"]++
					search("metric "+m.Name, set.Encoded(attribute.DefaultEncoder()))
				}
			}
		}
	}
	for _, r := range s.Logs.Records() {
		seen["log records"]++
		text := r.Body().String()
		r.WalkAttributes(func(kv attribute.KeyValue) bool {
			text += " " + string(kv.Key) + "=" + kv.Value.Emit()
			return true
		})
		search("log record", text)
	}
	stdout := s.Stdout.String()
	seen["stdout lines"] = strings.Count(stdout, "\n")
	search("stdout", stdout)
	// The search proves nothing about a signal that captured nothing.
	for _, kind := range []string{"spans", "metric attribute sets", "log records", "stdout lines"} {
		if seen[kind] == 0 {
			t.Errorf("no %s were captured to search", kind)
		}
	}
	t.Logf("searched %v", seen)
}
