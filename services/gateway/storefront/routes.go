package storefront

import "net/http"

// Routes adds every route of the storefront to mux, one line each.
func (s *Storefront) Routes(mux *http.ServeMux) {
	mux.Handle("GET /{$}", s.page("home", s.home))
	mux.Handle("GET /products/{id}", s.page("product", s.product))
	mux.Handle("GET /signin", s.page("signin", s.signInForm))
	mux.Handle("GET /signup", s.page("signup", s.signUpForm))
	mux.Handle("GET /cart", s.page("cart", s.cart))
	mux.Handle("GET /checkout", s.page("checkout", s.checkout))
	mux.Handle("GET /orders", s.page("orders", s.orders))
	mux.Handle("GET /orders/{id}", s.page("order", s.order))

	mux.Handle("POST /session", s.signIn())
	mux.Handle("DELETE /session", s.signOut())

	mux.Handle("GET /static/", s.static())
	mux.Handle("/", s.page("error", s.notFound))
}
