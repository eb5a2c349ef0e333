package shopper

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otelshop/shop/loadtest/internal/gateway"
)

// scenario is one kind of shopper. run drives a session through the gateway API; it
// returns at the first failed request, as a shopper facing an error page would.
type scenario struct {
	name   string
	weight float64 // in the default mix
	about  string
	run    func(s *session) error
}

// scenarios are the shoppers modelled; the weights make the default mix, roughly the
// funnel of a small shop: most visitors browse, few buy.
var scenarios = []*scenario{
	{name: "browse", weight: 35, run: browse,
		about: "anonymous: categories, product list and a page or two more, a category filter, a few products"},
	{name: "search", weight: 15, run: search,
		about: "anonymous: search (q=), open top results, sometimes refine by category"},
	{name: "product", weight: 15, run: productVisit,
		about: "anonymous: lands on a popular product, then related products in its category"},
	{name: "account", weight: 5, run: signUp,
		about: "registers, logs in, views the profile"},
	{name: "cart", weight: 10, run: fillCart,
		about: "signs in, adds products, changes a quantity or removes one, sometimes abandons the cart"},
	{name: "checkout", weight: 12, run: buy,
		about: "signs in, adds products, checks out with a test card of one of the four networks, views the order and its shipment"},
	{name: "orders", weight: 8, run: reviewOrders,
		about: "returning customer: logs in, lists orders, opens one and its shipment"},
}

func scenarioNamed(name string) *scenario {
	for _, s := range scenarios {
		if s.name == name {
			return s
		}
	}
	return nil
}

// Scenarios lists the scenarios' names in declaration order.
func Scenarios() []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return names
}

// Describe writes one line per scenario: its name and what the shopper does.
func Describe(w func(name, about string)) {
	for _, s := range scenarios {
		w(s.name, s.about)
	}
}

// Mix is the scenarios of a run with their shares of the sessions.
type Mix []weighted

type weighted struct {
	scenario *scenario
	weight   float64
}

// DefaultMix is the -mix default: every scenario with its default weight.
func DefaultMix() string {
	parts := make([]string, len(scenarios))
	for i, s := range scenarios {
		parts[i] = fmt.Sprintf("%s=%g", s.name, s.weight)
	}
	return strings.Join(parts, ",")
}

// ParseMix reads "browse=40,search=15,…"; scenarios left out do not run.
func ParseMix(s string) (Mix, error) {
	var out Mix
	var total float64
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok {
			return nil, fmt.Errorf("%q: want name=weight", part)
		}
		sc := scenarioNamed(name)
		if sc == nil {
			return nil, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(Scenarios(), ", "))
		}
		if seen[name] {
			return nil, fmt.Errorf("scenario %q given twice", name)
		}
		seen[name] = true
		weight, err := strconv.ParseFloat(strings.TrimSpace(w), 64)
		if err != nil || weight < 0 || math.IsNaN(weight) || math.IsInf(weight, 0) {
			return nil, fmt.Errorf("%q: weight must be a non-negative number", part)
		}
		if weight > 0 {
			out = append(out, weighted{scenario: sc, weight: weight})
			total += weight
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("no scenario has a positive weight")
	}
	return out, nil
}

// URLMix is the -url mode's only scenario, "url": one GET of ep with the raw query.
// Every session sends the same call, built once (nothing writes to a call; built per
// session, 48 allocations per request instead of 46).
func URLMix(ep gateway.Endpoint, query string) Mix {
	get := gateway.Get(ep, query)
	return Mix{{scenario: &scenario{name: "url", run: func(s *session) error { return s.do(get) }}, weight: 1}}
}

// Names lists the mix's scenarios in declaration order, the reports' order.
func (m Mix) Names() []string {
	var names []string
	for _, sc := range scenarios {
		if slices.ContainsFunc(m, func(w weighted) bool { return w.scenario == sc }) {
			names = append(names, sc.name)
		}
	}
	for _, w := range m {
		if !slices.Contains(names, w.scenario.name) {
			names = append(names, w.scenario.name)
		}
	}
	return names
}

// pick draws a scenario by weight.
func (m Mix) pick(r *rand.Rand) *scenario {
	var total float64
	for _, w := range m {
		total += w.weight
	}
	x := r.Float64() * total
	for _, w := range m {
		if x < w.weight {
			return w.scenario
		}
		x -= w.weight
	}
	return m[len(m)-1].scenario
}

func browse(s *session) error {
	var cats []string
	if err := s.do(gateway.Categories(&cats)); err != nil {
		return err
	}
	first, err := s.listProducts(gateway.ListQuery{Page: 1})
	if err != nil {
		return err
	}
	// Paginate a little, as far as the listing goes.
	more := s.rng.IntN(3)
	for p := 2; p <= 1+more && (p-1)*gateway.PageSize < first.Total; p++ {
		if _, err := s.listProducts(gateway.ListQuery{Page: p}); err != nil {
			return err
		}
	}
	if len(cats) > 0 {
		cat := cats[s.rng.IntN(len(cats))]
		page, err := s.listProducts(gateway.ListQuery{Page: 1, Category: cat})
		if err != nil {
			return err
		}
		if page.Total > gateway.PageSize && s.rng.IntN(3) == 0 {
			if _, err := s.listProducts(gateway.ListQuery{Page: 2, Category: cat}); err != nil {
				return err
			}
		}
	}
	return viewPopular(s, 1+s.rng.IntN(3))
}

// listProducts lists a page; measured sessions top the catalog up with what it shows.
func (s *session) listProducts(q gateway.ListQuery) (gateway.ProductPage, error) {
	var page gateway.ProductPage
	err := s.do(gateway.ListProducts(q, &page))
	if err == nil {
		s.catalog.observe(page.Products)
	}
	return page, err
}

func (s *session) product(id string) (gateway.Product, error) {
	var p gateway.Product
	err := s.do(gateway.GetProduct(id, &p))
	return p, err
}

// viewPopular opens n products drawn by popularity.
func viewPopular(s *session, n int) error {
	for range n {
		id, ok := s.pickProduct()
		if !ok {
			return nil // an empty shop: nothing to open
		}
		if _, err := s.product(id); err != nil {
			return err
		}
	}
	return nil
}

func search(s *session) error {
	page, err := s.listProducts(gateway.ListQuery{Page: 1, Search: s.catalog.searchWord(s.rng)})
	if err != nil {
		return err
	}
	// Shoppers open the top results far more often than the rest.
	for i := range min(len(page.Products), 1+s.rng.IntN(2)) {
		if _, err := s.product(page.Products[i].ID); err != nil {
			return err
		}
	}
	if cats := s.catalog.Categories(); len(cats) > 0 && s.rng.IntN(3) == 0 {
		q := gateway.ListQuery{Page: 1, Search: s.catalog.searchWord(s.rng), Category: cats[s.rng.IntN(len(cats))]}
		if _, err := s.listProducts(q); err != nil {
			return err
		}
	}
	return nil
}

func productVisit(s *session) error {
	id, ok := s.pickProduct()
	if !ok {
		_, err := s.listProducts(gateway.ListQuery{Page: 1})
		return err
	}
	p, err := s.product(id)
	if err != nil {
		return err
	}
	if p.Category == "" || s.rng.IntN(2) == 0 {
		return nil
	}
	related, err := s.listProducts(gateway.ListQuery{Page: 1, Category: p.Category})
	if err != nil || len(related.Products) == 0 {
		return err
	}
	_, err = s.product(related.Products[s.rng.IntN(len(related.Products))].ID)
	return err
}

func signUp(s *session) error {
	defer s.releaseAccount() // later sessions log in with it
	acc := s.accounts.create(s.rng)
	if err := s.register(acc); err != nil {
		return err
	}
	s.account = acc
	if err := s.login(acc); err != nil {
		return err
	}
	return s.do(gateway.Me(s.token))
}

func (s *session) register(a *account) error {
	return s.do(gateway.Register(gateway.Credentials{Email: a.email, Password: a.password, Name: a.name}))
}

func (s *session) login(a *account) error {
	return s.do(gateway.Login(a.email, a.password, &s.token))
}

// signIn logs in as a known shopper (lent exclusively to this session) or registers a
// new one; the caller returns the account with releaseAccount.
func signIn(s *session, wantOrders bool) error {
	acc, ok := s.accounts.take(s.rng, wantOrders)
	if !ok || (!wantOrders && s.rng.IntN(2) == 0) {
		if ok {
			s.accounts.give(acc)
		}
		acc = s.accounts.create(s.rng)
		if err := s.register(acc); err != nil {
			return err
		}
	}
	s.account = acc
	if err := s.login(acc); err != nil {
		return err
	}
	// The front end shows the cart badge right after login; it also tells the session
	// what a previous visit left in the cart.
	return s.do(gateway.GetCart(s.token, &s.cart))
}

func (s *session) releaseAccount() {
	if s.account != nil {
		s.accounts.give(s.account)
	}
}

// addPopular opens n popular products and puts each in the cart.
func addPopular(s *session, n int) error {
	for range n {
		id, ok := s.pickProduct()
		if !ok {
			return nil
		}
		if _, err := s.product(id); err != nil {
			return err
		}
		if err := s.do(gateway.AddCartItem(s.token, id, 1+s.rng.IntN(2), &s.cart)); err != nil {
			return err
		}
	}
	return nil
}

// anyCartItem picks a product in the cart, or "" for an empty cart.
func (s *session) anyCartItem() string {
	ids := make([]string, 0, len(s.cart))
	for id := range s.cart {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return ""
	}
	// Map order is random but not seeded: sort for reproducible sessions.
	slices.Sort(ids)
	return ids[s.rng.IntN(len(ids))]
}

// signInAndFillCart is how both cart scenarios begin: a shopper signs in, adds one to
// three popular products and looks at the cart.
func signInAndFillCart(s *session) error {
	if err := signIn(s, false); err != nil {
		return err
	}
	if err := addPopular(s, 1+s.rng.IntN(3)); err != nil {
		return err
	}
	return s.do(gateway.GetCart(s.token, &s.cart))
}

func fillCart(s *session) error {
	defer s.releaseAccount()
	if err := signInAndFillCart(s); err != nil {
		return err
	}
	if id := s.anyCartItem(); id != "" && s.rng.IntN(10) < 3 {
		if err := s.do(gateway.UpdateCartItem(s.token, id, s.cart[id]+1, &s.cart)); err != nil {
			return err
		}
	}
	if id := s.anyCartItem(); id != "" && len(s.cart) > 1 && s.rng.IntN(10) < 2 {
		if err := s.do(gateway.RemoveCartItem(s.token, id, &s.cart)); err != nil {
			return err
		}
	}
	if s.rng.IntN(10) == 0 {
		if err := s.do(gateway.ClearCart(s.token)); err != nil {
			return err
		}
		clear(s.cart)
	}
	return nil
}

func buy(s *session) error {
	defer s.releaseAccount()
	if err := signInAndFillCart(s); err != nil {
		return err
	}
	if len(s.cart) == 0 {
		return nil // nothing could be added: an empty shop
	}
	id, err := s.checkout()
	if err != nil || id == "" {
		return err // "" is 409: sold out, which the shopper accepts
	}
	s.account.orders++
	if err := s.do(gateway.GetOrder(s.token, id)); err != nil {
		return err
	}
	return s.do(gateway.Shipment(s.token, id))
}

// checkout pays with the provider's always-succeeding test card and ships to a
// real-looking address. It returns the new order's id, or "" when the shop answered 409.
func (s *session) checkout() (string, error) {
	addr := addresses[s.rng.IntN(len(addresses))]
	addr.Name = s.account.name
	expiry := time.Now().AddDate(3, 0, 0)
	card := pickCard(s.rng)
	req := gateway.CheckoutRequest{
		Payment: gateway.Payment{
			CardNumber: card.Number,
			Expiry:     fmt.Sprintf("%02d/%02d", int(expiry.Month()), expiry.Year()%100),
			CVC:        fmt.Sprintf("%0*d", card.CVCDigits, s.rng.IntN(9000)%pow10(card.CVCDigits)),
		},
		ShippingAddress: addr,
	}
	var id string
	err := s.do(gateway.Checkout(s.token, randomHex(s.rng, 16), req, &id))
	if err == nil && id != "" {
		clear(s.cart)
		s.orders = append(s.orders, id)
	}
	return id, err
}

// pickCard draws a test card by its network's weight.
func pickCard(r *rand.Rand) gateway.TestCard {
	total := 0
	for _, c := range gateway.TestCards {
		total += c.Weight
	}
	n := r.IntN(total)
	for _, c := range gateway.TestCards {
		if n -= c.Weight; n < 0 {
			return c.TestCard
		}
	}
	return gateway.TestCards[0].TestCard
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}

func reviewOrders(s *session) error {
	defer s.releaseAccount()
	if err := signIn(s, true); err != nil {
		return err
	}
	var orders []gateway.Order
	if err := s.do(gateway.ListOrders(s.token, &orders)); err != nil || len(orders) == 0 {
		return err
	}
	o := orders[s.rng.IntN(len(orders))]
	if err := s.do(gateway.GetOrder(s.token, o.ID)); err != nil {
		return err
	}
	return s.do(gateway.Shipment(s.token, o.ID))
}
