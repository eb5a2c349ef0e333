package loadtest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// scenario is one kind of shopper. run drives a session through the gateway API; it
// returns at the first failed request, as a shopper facing an error page would.
type scenario struct {
	name   string
	weight float64 // in the default mix
	about  string
	run    func(s *session) error
}

// weighted is a scenario with its share of the sessions in this run.
type weighted struct {
	scenario *scenario
	weight   float64
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
		about: "signs in, adds products, checks out with test card 4242…, views the order and its shipment"},
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

func scenarioNames() []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return names
}

func defaultMix() string {
	parts := make([]string, len(scenarios))
	for i, s := range scenarios {
		parts[i] = fmt.Sprintf("%s=%g", s.name, s.weight)
	}
	return strings.Join(parts, ",")
}

// pick draws a scenario by weight.
func pick(mix []weighted, r *rand.Rand) *scenario {
	var total float64
	for _, w := range mix {
		total += w.weight
	}
	x := r.Float64() * total
	for _, w := range mix {
		if x < w.weight {
			return w.scenario
		}
		x -= w.weight
	}
	return mix[len(mix)-1].scenario
}

func browse(s *session) error {
	cats, err := s.categories()
	if err != nil {
		return err
	}
	first, err := s.listProducts(listQuery{page: 1})
	if err != nil {
		return err
	}
	// Paginate a little, as far as the listing goes.
	more := s.rng.IntN(3)
	for p := 2; p <= 1+more && (p-1)*pageSize < first.Total; p++ {
		if _, err := s.listProducts(listQuery{page: p}); err != nil {
			return err
		}
	}
	if len(cats) > 0 {
		cat := cats[s.rng.IntN(len(cats))]
		page, err := s.listProducts(listQuery{page: 1, category: cat})
		if err != nil {
			return err
		}
		if page.Total > pageSize && s.rng.IntN(3) == 0 {
			if _, err := s.listProducts(listQuery{page: 2, category: cat}); err != nil {
				return err
			}
		}
	}
	return viewPopular(s, 1+s.rng.IntN(3))
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
	page, err := s.listProducts(listQuery{page: 1, search: s.r.catalog.searchWord(s.rng)})
	if err != nil {
		return err
	}
	// Shoppers open the top results far more often than the rest.
	for i := range min(len(page.Products), 1+s.rng.IntN(2)) {
		if _, err := s.product(page.Products[i].ID); err != nil {
			return err
		}
	}
	if cats := s.r.catalog.categoryNames(); len(cats) > 0 && s.rng.IntN(3) == 0 {
		q := listQuery{page: 1, search: s.r.catalog.searchWord(s.rng), category: cats[s.rng.IntN(len(cats))]}
		if _, err := s.listProducts(q); err != nil {
			return err
		}
	}
	return nil
}

func productVisit(s *session) error {
	id, ok := s.pickProduct()
	if !ok {
		_, err := s.listProducts(listQuery{page: 1})
		return err
	}
	p, err := s.product(id)
	if err != nil {
		return err
	}
	if p.Category == "" || s.rng.IntN(2) == 0 {
		return nil
	}
	related, err := s.listProducts(listQuery{page: 1, category: p.Category})
	if err != nil || len(related.Products) == 0 {
		return err
	}
	_, err = s.product(related.Products[s.rng.IntN(len(related.Products))].ID)
	return err
}

func signUp(s *session) error {
	defer s.releaseAccount() // later sessions log in with it
	acc := s.r.newAccount(s.rng)
	if err := s.register(acc); err != nil {
		return err
	}
	s.account = acc
	if err := s.login(acc); err != nil {
		return err
	}
	return s.me()
}

// signIn logs in as a known shopper (lent exclusively to this session) or registers a
// new one; the caller returns the account with releaseAccount.
func signIn(s *session, wantOrders bool) error {
	acc, ok := s.r.accounts.take(s.rng, wantOrders)
	if !ok || (!wantOrders && s.rng.IntN(2) == 0) {
		if ok {
			s.r.accounts.give(acc)
		}
		acc = s.r.newAccount(s.rng)
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
	return s.getCart()
}

func (s *session) releaseAccount() {
	if s.account != nil {
		s.r.accounts.give(s.account)
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
		if err := s.addToCart(id, 1+s.rng.IntN(2)); err != nil {
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
	return s.getCart()
}

func fillCart(s *session) error {
	defer s.releaseAccount()
	if err := signInAndFillCart(s); err != nil {
		return err
	}
	if id := s.anyCartItem(); id != "" && s.rng.IntN(10) < 3 {
		if err := s.updateCartItem(id, s.cart[id]+1); err != nil {
			return err
		}
	}
	if id := s.anyCartItem(); id != "" && len(s.cart) > 1 && s.rng.IntN(10) < 2 {
		if err := s.removeCartItem(id); err != nil {
			return err
		}
	}
	if s.rng.IntN(10) == 0 {
		return s.clearCart()
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
	s.account.hasOrders = true
	if err := s.order(id); err != nil {
		return err
	}
	return s.shipment(id)
}

func reviewOrders(s *session) error {
	defer s.releaseAccount()
	if err := signIn(s, true); err != nil {
		return err
	}
	orders, err := s.listOrders()
	if err != nil || len(orders) == 0 {
		return err
	}
	o := orders[s.rng.IntN(len(orders))]
	if err := s.order(o.ID); err != nil {
		return err
	}
	return s.shipment(o.ID)
}

// singleURL is the -url mode's only scenario: one GET of the URL's path and query. Every
// session sends the same call, built once (nothing writes to a call).
func singleURL(ep endpoint, query string) *scenario {
	get := &call{ep: ep, path: ep.route, query: query, accept: []int{200, 201, 202, 204}}
	return &scenario{
		name: "url",
		run:  func(s *session) error { return s.do(get) },
	}
}
