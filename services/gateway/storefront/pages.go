package storefront

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/otelshop/shop/internal/ids"
)

// pageSize is how many products a page of the catalogue shows.
const pageSize = 12

// The pages. Each reads what it shows from the public API as the shopper (f.token)
// and returns its template's data; the API's errors become error pages.

type homeData struct {
	Heading    string
	Category   string
	Categories []category
	Products   []product
	Page       int
	Pages      int
	Total      int
	PrevURL    string
	NextURL    string
}

func (s *Storefront) home(r *http.Request, f *frame) (any, error) {
	in := r.URL.Query()
	d := homeData{Category: in.Get("category"), Page: 1}
	f.Query = strings.TrimSpace(in.Get("q"))
	if p := in.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 10_000 {
			return nil, &pageError{Status: http.StatusBadRequest, Title: "No such page", Message: "The page number must be a whole number from 1."}
		}
		d.Page = n
	}
	q := url.Values{"page": {strconv.Itoa(d.Page)}, "page_size": {strconv.Itoa(pageSize)}}
	if d.Category != "" {
		q.Set("category", d.Category)
	}
	if f.Query != "" {
		q.Set("q", f.Query)
	}
	var list productPage
	if err := s.call(r, f.token, http.MethodGet, "/api/products?"+q.Encode(), &list); err != nil {
		return nil, err
	}
	var cats struct {
		Categories []category `json:"categories"`
	}
	if err := s.call(r, f.token, http.MethodGet, "/api/categories", &cats); err != nil {
		return nil, err
	}
	d.Categories, d.Products, d.Total = cats.Categories, list.Products, list.Total
	d.Pages = max(1, int(math.Ceil(float64(list.Total)/pageSize)))
	switch {
	case f.Query != "" && d.Category != "":
		d.Heading = "“" + f.Query + "” in " + d.Category
	case f.Query != "":
		d.Heading = "Results for “" + f.Query + "”"
	case d.Category != "":
		d.Heading = strings.ToUpper(d.Category[:1]) + d.Category[1:]
	default:
		d.Heading = "All products"
	}
	f.Title = d.Heading
	link := func(page int) string {
		v := url.Values{}
		if d.Category != "" {
			v.Set("category", d.Category)
		}
		if f.Query != "" {
			v.Set("q", f.Query)
		}
		if page > 1 {
			v.Set("page", strconv.Itoa(page))
		}
		if len(v) == 0 {
			return "/"
		}
		return "/?" + v.Encode()
	}
	if d.Page > 1 {
		d.PrevURL = link(d.Page - 1)
	}
	if d.Page < d.Pages {
		d.NextURL = link(d.Page + 1)
	}
	return d, nil
}

func (s *Storefront) product(r *http.Request, f *frame) (any, error) {
	id := r.PathValue("id")
	if !ids.Product(id) {
		return nil, notFound("product")
	}
	var p product
	if err := s.call(r, f.token, http.MethodGet, "/api/products/"+id, &p); err != nil {
		return nil, err
	}
	f.Title = p.Name
	return p, nil
}

type signInData struct{ Next string }

func (s *Storefront) signInForm(r *http.Request, f *frame) (any, error) {
	f.Title = "Sign in"
	if r.URL.Query().Get("expired") == "1" {
		f.Notice = "Your session has expired. Sign in again."
	}
	d := signInData{Next: safeNext(r.URL.Query().Get("next"))}
	f.Here = d.Next // the header's links lead where this page does, never elsewhere
	return d, nil
}

func (s *Storefront) signUpForm(r *http.Request, f *frame) (any, error) {
	f.Title = "Create an account"
	d := signInData{Next: safeNext(r.URL.Query().Get("next"))}
	f.Here = d.Next
	return d, nil
}

// line is a product in the cart or in an order, with what it costs.
type line struct {
	ProductID  string
	Name       string
	Category   string
	Quantity   int
	PriceCents int64
	Currency   string
	TotalCents int64
}

type cartData struct {
	Lines      []line
	TotalCents int64
	Currency   string
}

func (s *Storefront) cart(r *http.Request, f *frame) (any, error) {
	if !f.SignedIn {
		return nil, errSignInRequired
	}
	f.Title = "Your cart"
	return s.readCart(r, f)
}

func (s *Storefront) checkout(r *http.Request, f *frame) (any, error) {
	if !f.SignedIn {
		return nil, errSignInRequired
	}
	f.Title = "Checkout"
	return s.readCart(r, f)
}

// readCart reads the cart and prices it from the catalogue, as orders will.
func (s *Storefront) readCart(r *http.Request, f *frame) (cartData, error) {
	var c cartBody
	if err := s.call(r, f.token, http.MethodGet, "/api/cart", &c); err != nil {
		return cartData{}, signInWhenUnauthorized(err, f)
	}
	f.cartKnown = true
	items := make([]orderItem, len(c.Items))
	for i, it := range c.Items {
		f.CartCount += it.Quantity
		items[i] = orderItem{ProductID: it.ProductID, Quantity: it.Quantity}
	}
	lines, err := s.lines(r, f, items, true)
	if err != nil {
		return cartData{}, err
	}
	d := cartData{Lines: lines, Currency: "USD"}
	for _, l := range lines {
		d.TotalCents += l.TotalCents
		d.Currency = l.Currency
	}
	return d, nil
}

// lines names and prices items from the catalogue; at the current price when
// current, else at the price each was bought for.
func (s *Storefront) lines(r *http.Request, f *frame, items []orderItem, current bool) ([]line, error) {
	if len(items) == 0 {
		return nil, nil
	}
	idList := make([]string, 0, len(items))
	for _, it := range items {
		if ids.Product(it.ProductID) && !slices.Contains(idList, it.ProductID) {
			idList = append(idList, it.ProductID)
		}
	}
	var found productPage
	if err := s.call(r, f.token, http.MethodGet, "/api/products?ids="+url.QueryEscape(strings.Join(idList, ",")), &found); err != nil {
		return nil, err
	}
	byID := map[string]product{}
	for _, p := range found.Products {
		byID[p.ID] = p
	}
	out := make([]line, 0, len(items))
	for _, it := range items {
		p, ok := byID[it.ProductID]
		l := line{ProductID: it.ProductID, Name: p.Name, Category: p.Category, Quantity: it.Quantity, PriceCents: it.PriceCents, Currency: p.Currency}
		if !ok {
			l.Name = "A product no longer sold (" + it.ProductID + ")"
		}
		if current {
			l.PriceCents = p.PriceCents
		}
		if l.Currency == "" {
			l.Currency = "USD"
		}
		l.TotalCents = l.PriceCents * int64(l.Quantity)
		out = append(out, l)
	}
	return out, nil
}

func (s *Storefront) orders(r *http.Request, f *frame) (any, error) {
	if !f.SignedIn {
		return nil, errSignInRequired
	}
	f.Title = "Your orders"
	var list struct {
		Orders []order `json:"orders"`
	}
	if err := s.call(r, f.token, http.MethodGet, "/api/orders", &list); err != nil {
		return nil, signInWhenUnauthorized(err, f)
	}
	slices.SortStableFunc(list.Orders, func(a, b order) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return list.Orders, nil
}

type orderData struct {
	Order    order
	Lines    []line
	Shipment *shipment
	// Placed says the shopper arrives from the checkout that placed the order;
	// TraceURL then opens that checkout's trace, from the click on.
	Placed   bool
	TraceID  string
	TraceURL string
}

// traceIDPattern is a W3C trace id (lower-case hex; all zeros is none).
var traceIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func (s *Storefront) order(r *http.Request, f *frame) (any, error) {
	if !f.SignedIn {
		return nil, errSignInRequired
	}
	id, ok := ids.UUID(r.PathValue("id"))
	if !ok {
		return nil, notFound("order")
	}
	d := orderData{Placed: r.URL.Query().Get("placed") == "1"}
	if err := s.call(r, f.token, http.MethodGet, "/api/orders/"+id, &d.Order); err != nil {
		return nil, signInWhenUnauthorized(err, f)
	}
	f.Title = "Order " + short(d.Order.ID)
	lines, err := s.lines(r, f, d.Order.Items, false)
	if err != nil {
		return nil, err
	}
	d.Lines = lines
	if d.Order.Status == "placed" {
		var sh shipment
		var ae *apiError
		switch err := s.call(r, f.token, http.MethodGet, "/api/orders/"+id+"/shipment", &sh); {
		case err == nil:
			d.Shipment = &sh
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			// Not yet: shipping takes the order from RabbitMQ a moment after it is placed.
		default:
			return nil, err
		}
	}
	if t := r.URL.Query().Get("trace"); traceIDPattern.MatchString(t) && t != strings.Repeat("0", 32) {
		d.TraceID = t
		if s.cfg.JaegerURL != "" {
			d.TraceURL = strings.TrimSuffix(s.cfg.JaegerURL, "/") + "/trace/" + t
		}
	}
	return d, nil
}

func (s *Storefront) notFound(r *http.Request, f *frame) (any, error) {
	return nil, notFound("page")
}

func notFound(what string) *pageError {
	return &pageError{Status: http.StatusNotFound, Title: "Not found", Message: "There is no such " + what + " here."}
}

// signInWhenUnauthorized turns the API's 401 (a token that expired between the
// guard and the call) into the way to the sign-in page.
func signInWhenUnauthorized(err error, f *frame) error {
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		f.expired = true
		return errSignInRequired
	}
	return err
}

// safeNext is where signing in may lead: a path of this site, never another
// site ("//evil.example", "https://...") nor a script URL.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	if u.Path == "/signin" || u.Path == "/signup" || strings.HasPrefix(u.Path, "//") || strings.Contains(u.Path, "\\") {
		return "/"
	}
	return u.RequestURI()
}
