// Package gatewaytest is a fake of the gateway's public API for the load generator's
// tests: it implements docs/contract.md in memory and checks every request against it.
package gatewaytest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/baggage"

	"github.com/otelshop/shop/loadtest/internal/gateway"
)

// Gateway implements the public API of docs/contract.md in memory and checks every
// request the generator sends against it: methods, paths, query parameters, JSON bodies
// (no unknown or missing fields), bearer tokens, the test card and address, the
// Idempotency-Key, and the synthetic-traffic baggage. Anything off is a violation, answered
// with a 400 and listed for the test to fail on.
type Gateway struct {
	runID string
	// RequireTraceparent makes a request without a W3C traceparent a violation.
	RequireTraceparent bool

	mu         sync.Mutex
	products   []fakeProduct
	categories []string
	users      map[string]*fakeUser // by email
	tokens     map[string]*fakeUser
	orders     map[string]*fakeOrder
	nextID     int
	violations []string
	seen       map[string]int // by route template
}

type fakeProduct struct {
	ID          string `json:"id"`
	SKU         string `json:"sku"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Category    string `json:"category"`
	PriceCents  int64  `json:"price_cents"`
	Currency    string `json:"currency"`
	ImageURL    string `json:"image_url"`
}

type fakeUser struct {
	ID, Email, Name, Password string
	cart                      map[string]int
	orders                    []string
}

type fakeOrder struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	TotalCents int64      `json:"total_cents"`
	Currency   string     `json:"currency"`
	Items      []cartItem `json:"items"`
	CreatedAt  string     `json:"created_at"`
	owner      *fakeUser
}

var fakeNouns = map[string][]string{
	"coffee":  {"Espresso Beans", "Ceramic Mug", "Pour Over Kettle", "Burr Grinder"},
	"books":   {"Distributed Systems", "Gardening Handbook", "Mystery Novel", "Travel Guide"},
	"garden":  {"Watering Can", "Pruning Shears", "Seed Collection", "Terracotta Planter"},
	"kitchen": {"Chef Knife", "Cast Iron Skillet", "Cutting Board", "Spice Rack"},
	"music":   {"Wireless Headphones", "Vinyl Record", "Guitar Strings", "Desk Speaker"},
}

// New is a shop of products products in five categories, expecting the baggage of
// run runID on every request.
func New(runID string, products int) *Gateway {
	g := &Gateway{
		runID:  runID,
		users:  map[string]*fakeUser{},
		tokens: map[string]*fakeUser{},
		orders: map[string]*fakeOrder{},
		seen:   map[string]int{},
	}
	for c := range fakeNouns {
		g.categories = append(g.categories, c)
	}
	slices.Sort(g.categories)
	for i := 1; i <= products; i++ {
		cat := g.categories[i%len(g.categories)]
		nouns := fakeNouns[cat]
		id := fmt.Sprintf("SKU-%05d", i)
		g.products = append(g.products, fakeProduct{
			ID: id, SKU: id, Name: fmt.Sprintf("%s No. %d", nouns[i%len(nouns)], i),
			Description: "A product.", Category: cat, PriceCents: int64(500 + i*37%5000), Currency: "EUR",
			ImageURL: "https://img.example/" + id + ".jpg",
		})
	}
	return g
}

// Handler serves the API.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(method, template string, h func(w http.ResponseWriter, r *http.Request) error) {
		mux.HandleFunc(method+" "+template, func(w http.ResponseWriter, r *http.Request) {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.seen[method+" "+template]++
			if err := g.checkCommon(r); err == nil {
				err = h(w, r)
				if err != nil {
					g.violate(w, r, err)
				}
			} else {
				g.violate(w, r, err)
			}
		})
	}
	route("POST", "/api/users/register", g.register)
	route("POST", "/api/users/login", g.login)
	route("GET", "/api/users/me", g.authed(g.me))
	route("GET", "/api/products", g.listProducts)
	route("GET", "/api/products/{id}", g.product)
	route("GET", "/api/categories", g.listCategories)
	route("GET", "/api/cart", g.authed(g.getCart))
	route("POST", "/api/cart/items", g.authed(g.addItem))
	route("PUT", "/api/cart/items/{product_id}", g.authed(g.updateItem))
	route("DELETE", "/api/cart/items/{product_id}", g.authed(g.removeItem))
	route("DELETE", "/api/cart", g.authed(g.clearCart))
	route("POST", "/api/checkout", g.authed(g.checkout))
	route("GET", "/api/orders", g.authed(g.listOrders))
	route("GET", "/api/orders/{id}", g.authed(g.order))
	route("GET", "/api/orders/{id}/shipment", g.authed(g.shipment))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.violate(w, r, fmt.Errorf("no such route"))
	})
	return mux
}

func (g *Gateway) violate(w http.ResponseWriter, r *http.Request, err error) {
	g.violations = append(g.violations, fmt.Sprintf("%s %s: %v", r.Method, r.URL, err))
	writeJSONStatus(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"code": "contract", "message": err.Error()}})
}

var traceparentPattern = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$`)

func (g *Gateway) checkCommon(r *http.Request) error {
	bag, err := baggage.Parse(r.Header.Get("Baggage"))
	if err != nil {
		return fmt.Errorf("baggage header %q: %w", r.Header.Get("Baggage"), err)
	}
	if v := bag.Member("synthetic").Value(); v != "true" {
		return fmt.Errorf("baggage synthetic=%q, want true", v)
	}
	if v := bag.Member("loadtest.run").Value(); v != g.runID {
		return fmt.Errorf("baggage loadtest.run=%q, want %q", v, g.runID)
	}
	if g.RequireTraceparent && !traceparentPattern.MatchString(r.Header.Get("Traceparent")) {
		return fmt.Errorf("traceparent %q", r.Header.Get("Traceparent"))
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/json") {
		return fmt.Errorf("accept %q", r.Header.Get("Accept"))
	}
	hasBody := r.Method == http.MethodPost || r.Method == http.MethodPut
	if hasBody && r.Header.Get("Content-Type") != "application/json" {
		return fmt.Errorf("content-type %q", r.Header.Get("Content-Type"))
	}
	if !hasBody && r.ContentLength > 0 {
		return fmt.Errorf("unexpected body on %s", r.Method)
	}
	if r.URL.RawQuery != "" && r.URL.Path != "/api/products" {
		return fmt.Errorf("unexpected query %q", r.URL.RawQuery)
	}
	return nil
}

// decodeStrict reads a JSON body that must have exactly the fields of v.
func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (g *Gateway) id(prefix string) string {
	g.nextID++
	return fmt.Sprintf("%s-%d", prefix, g.nextID)
}

// authed is the handler of a route that needs the shopper's bearer token.
func (g *Gateway) authed(h func(http.ResponseWriter, *http.Request, *fakeUser) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, err := g.auth(r)
		if err != nil {
			return err
		}
		return h(w, r, u)
	}
}

func (g *Gateway) auth(r *http.Request) (*fakeUser, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, fmt.Errorf("authorization %q", r.Header.Get("Authorization"))
	}
	u, ok := g.tokens[tok]
	if !ok {
		return nil, fmt.Errorf("unknown token")
	}
	return u, nil
}

var emailPattern = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[a-z]+$`)

func (g *Gateway) register(w http.ResponseWriter, r *http.Request) error {
	var body struct{ Email, Password, Name string }
	if err := decodeStrict(r, &body); err != nil {
		return err
	}
	if !emailPattern.MatchString(body.Email) || len(body.Password) < 8 || strings.TrimSpace(body.Name) == "" {
		return fmt.Errorf("register fields %+v", body)
	}
	if _, taken := g.users[body.Email]; taken {
		return fmt.Errorf("email %s registered twice", body.Email)
	}
	u := &fakeUser{ID: g.id("usr"), Email: body.Email, Name: body.Name, Password: body.Password, cart: map[string]int{}}
	g.users[u.Email] = u
	writeJSONStatus(w, http.StatusCreated, map[string]string{"id": u.ID, "email": u.Email, "name": u.Name, "created_at": time.Now().UTC().Format(time.RFC3339)})
	return nil
}

func (g *Gateway) login(w http.ResponseWriter, r *http.Request) error {
	var body struct{ Email, Password string }
	if err := decodeStrict(r, &body); err != nil {
		return err
	}
	u, ok := g.users[body.Email]
	if !ok || u.Password != body.Password {
		return fmt.Errorf("bad credentials for %s", body.Email)
	}
	tok := g.id("tok")
	g.tokens[tok] = u
	writeJSONStatus(w, http.StatusOK, map[string]string{"token": tok, "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	return nil
}

func (g *Gateway) me(w http.ResponseWriter, r *http.Request, u *fakeUser) error {
	writeJSONStatus(w, http.StatusOK, map[string]string{"id": u.ID, "email": u.Email, "name": u.Name, "created_at": "2026-01-01T00:00:00Z"})
	return nil
}

func (g *Gateway) listProducts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains([]string{"page", "page_size", "category", "q"}, k) {
			return fmt.Errorf("unknown query parameter %q", k)
		}
		if len(q[k]) != 1 || q.Get(k) == "" {
			return fmt.Errorf("query parameter %q given as %q", k, q[k])
		}
	}
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		return fmt.Errorf("page %q", q.Get("page"))
	}
	size, err := strconv.Atoi(q.Get("page_size"))
	if err != nil || size < 1 || size > 100 {
		return fmt.Errorf("page_size %q", q.Get("page_size"))
	}
	cat := q.Get("category")
	if cat != "" && !slices.Contains(g.categories, cat) {
		return fmt.Errorf("unknown category %q", cat)
	}
	var match []fakeProduct
	for _, p := range g.products {
		if (cat == "" || p.Category == cat) && (q.Get("q") == "" || strings.Contains(strings.ToLower(p.Name), strings.ToLower(q.Get("q")))) {
			match = append(match, p)
		}
	}
	lo, hi := min((page-1)*size, len(match)), min(page*size, len(match))
	writeJSONStatus(w, http.StatusOK, map[string]any{"products": append([]fakeProduct{}, match[lo:hi]...), "page": page, "page_size": size, "total": len(match)})
	return nil
}

func (g *Gateway) findProduct(id string) (fakeProduct, bool) {
	for _, p := range g.products {
		if p.ID == id {
			return p, true
		}
	}
	return fakeProduct{}, false
}

var skuPattern = regexp.MustCompile(`^SKU-\d{5}$`)

func (g *Gateway) product(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	p, ok := g.findProduct(id)
	if !skuPattern.MatchString(id) || !ok {
		return fmt.Errorf("product id %q was never listed", id)
	}
	writeJSONStatus(w, http.StatusOK, p)
	return nil
}

func (g *Gateway) listCategories(w http.ResponseWriter, _ *http.Request) error {
	var cats []map[string]any
	for _, c := range g.categories {
		n := 0
		for _, p := range g.products {
			if p.Category == c {
				n++
			}
		}
		cats = append(cats, map[string]any{"name": c, "count": n})
	}
	writeJSONStatus(w, http.StatusOK, map[string]any{"categories": cats})
	return nil
}

type cartItem struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

func (g *Gateway) writeCart(w http.ResponseWriter, u *fakeUser) {
	items := []cartItem{}
	for _, id := range slices.Sorted(maps.Keys(u.cart)) {
		items = append(items, cartItem{ProductID: id, Quantity: u.cart[id]})
	}
	writeJSONStatus(w, http.StatusOK, map[string]any{"items": items})
}

func (g *Gateway) getCart(w http.ResponseWriter, r *http.Request, u *fakeUser) error {
	g.writeCart(w, u)
	return nil
}

func (g *Gateway) addItem(w http.ResponseWriter, r *http.Request, u *fakeUser) error {
	var body struct {
		ProductID string `json:"product_id"`
		Quantity  int    `json:"quantity"`
	}
	if err := decodeStrict(r, &body); err != nil {
		return err
	}
	if _, ok := g.findProduct(body.ProductID); !ok || body.Quantity < 1 || body.Quantity > 10 {
		return fmt.Errorf("add item %+v", body)
	}
	u.cart[body.ProductID] += body.Quantity
	g.writeCart(w, u)
	return nil
}

func (g *Gateway) updateItem(w http.ResponseWriter, r *http.Request, u *fakeUser) error {
	var body struct {
		Quantity int `json:"quantity"`
	}
	if err := decodeStrict(r, &body); err != nil {
		return err
	}
	id := r.PathValue("product_id")
	if _, ok := u.cart[id]; !ok || body.Quantity < 1 {
		return fmt.Errorf("update %q to %d: not in cart", id, body.Quantity)
	}
	u.cart[id] = body.Quantity
	g.writeCart(w, u)
	return nil
}

func (g *Gateway) removeItem(w http.ResponseWriter, r *http.Request, u *fakeUser) error {
	id := r.PathValue("product_id")
	if _, ok := u.cart[id]; !ok {
		return fmt.Errorf("remove %q: not in cart", id)
	}
	delete(u.cart, id)
	g.writeCart(w, u)
	return nil
}

func (g *Gateway) clearCart(w http.ResponseWriter, r *http.Request, u *fakeUser) error {
	clear(u.cart)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func luhnValid(number string) bool {
	sum, double := 0, false
	for i := len(number) - 1; i >= 0; i-- {
		d := int(number[i] - '0')
		if d < 0 || d > 9 {
			return false
		}
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return len(number) >= 12 && sum%10 == 0
}

var (
	expiryPattern  = regexp.MustCompile(`^(0[1-9]|1[0-2])/\d{2}$`)
	cvcPattern     = regexp.MustCompile(`^\d{3,4}$`)
	countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)
)

func (g *Gateway) checkout(w http.ResponseWriter, r *http.Request, u *fakeUser) error {
	if len(r.Header.Get("Idempotency-Key")) < 8 {
		return fmt.Errorf("idempotency-key %q", r.Header.Get("Idempotency-Key"))
	}
	var body struct {
		Payment *struct {
			CardNumber string `json:"card_number"`
			Expiry     string `json:"expiry"`
			CVC        string `json:"cvc"`
		} `json:"payment"`
		ShippingAddress *struct {
			Name       string `json:"name"`
			Line1      string `json:"line1"`
			City       string `json:"city"`
			PostalCode string `json:"postal_code"`
			Country    string `json:"country"`
		} `json:"shipping_address"`
	}
	if err := decodeStrict(r, &body); err != nil {
		return err
	}
	p, a := body.Payment, body.ShippingAddress
	if p == nil || a == nil {
		return fmt.Errorf("payment or shipping_address missing")
	}
	testCard := false
	for _, c := range gateway.TestCards {
		testCard = testCard || c.Number == p.CardNumber
	}
	if !testCard || !luhnValid(p.CardNumber) {
		return fmt.Errorf("card %q is not one of the always-succeeding test cards", p.CardNumber)
	}
	if !expiryPattern.MatchString(p.Expiry) {
		return fmt.Errorf("expiry %q", p.Expiry)
	}
	month, _ := strconv.Atoi(p.Expiry[:2])
	year, _ := strconv.Atoi(p.Expiry[3:])
	if time.Date(2000+year, time.Month(month)+1, 1, 0, 0, 0, 0, time.UTC).Before(time.Now()) {
		return fmt.Errorf("expiry %q is in the past", p.Expiry)
	}
	if !cvcPattern.MatchString(p.CVC) {
		return fmt.Errorf("cvc %q", p.CVC)
	}
	if a.Name == "" || a.Line1 == "" || a.City == "" || a.PostalCode == "" || !countryPattern.MatchString(a.Country) {
		return fmt.Errorf("shipping address %+v", *a)
	}
	if len(u.cart) == 0 {
		writeJSONStatus(w, http.StatusConflict, map[string]any{"error": map[string]string{"code": "empty_cart", "message": "cart is empty"}})
		return nil
	}
	o := &fakeOrder{ID: g.id("ord"), Status: "placed", Currency: "EUR", CreatedAt: time.Now().UTC().Format(time.RFC3339), owner: u}
	for id, q := range u.cart {
		pr, _ := g.findProduct(id)
		o.Items = append(o.Items, cartItem{ProductID: id, Quantity: q})
		o.TotalCents += pr.PriceCents * int64(q)
	}
	clear(u.cart)
	g.orders[o.ID] = o
	u.orders = append(u.orders, o.ID)
	writeJSONStatus(w, http.StatusCreated, o)
	return nil
}

func (g *Gateway) listOrders(w http.ResponseWriter, r *http.Request, u *fakeUser) error {
	orders := []*fakeOrder{}
	for _, id := range u.orders {
		orders = append(orders, g.orders[id])
	}
	writeJSONStatus(w, http.StatusOK, map[string]any{"orders": orders})
	return nil
}

func (g *Gateway) ownOrder(r *http.Request, u *fakeUser) (*fakeOrder, error) {
	o, ok := g.orders[r.PathValue("id")]
	if !ok || o.owner != u {
		return nil, fmt.Errorf("order %q is not this user's", r.PathValue("id"))
	}
	return o, nil
}

func (g *Gateway) order(w http.ResponseWriter, r *http.Request, u *fakeUser) error {
	o, err := g.ownOrder(r, u)
	if err != nil {
		return err
	}
	writeJSONStatus(w, http.StatusOK, o)
	return nil
}

// shipment answers 404 for every other order, as the real one does until shipping has
// caught up; the generator must accept both.
func (g *Gateway) shipment(w http.ResponseWriter, r *http.Request, u *fakeUser) error {
	o, err := g.ownOrder(r, u)
	if err != nil {
		return err
	}
	if n, _ := strconv.Atoi(strings.TrimPrefix(o.ID, "ord-")); n%2 == 1 {
		writeJSONStatus(w, http.StatusNotFound, map[string]any{"error": map[string]string{"code": "not_found", "message": "no shipment yet"}})
		return nil
	}
	writeJSONStatus(w, http.StatusOK, map[string]any{"id": "shp-" + o.ID, "order_id": o.ID, "status": "created", "carrier": "DHL", "quote_cents": 499, "created_at": o.CreatedAt})
	return nil
}

// Report lists the violations so far and the requests seen by route template.
func (g *Gateway) Report() (violations []string, seen map[string]int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.violations), maps.Clone(g.seen)
}
