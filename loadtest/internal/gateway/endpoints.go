// Package gateway is the gateway's public API (docs/contract.md) as the load generator
// calls it: its routes, a builder per call that checks the response against the
// contract, the HTTP client that sends the calls (a client span each, baggage that marks
// the traffic synthetic), and the outcome kinds a request can end in.
package gateway

import (
	"net/http"
	"net/url"
	"strings"
)

// Endpoint names a route by method and template. Only this name reaches metrics, span
// names and reports: raw paths carry product and order ids.
type Endpoint struct {
	Method string
	Route  string
	// name is "METHOD route", built once: every request is labelled with it (built per
	// use, 47 allocations per request instead of 46).
	name string
}

// NewEndpoint names the route template of method.
func NewEndpoint(method, route string) Endpoint {
	return Endpoint{Method: method, Route: route, name: method + " " + route}
}

func (e Endpoint) String() string { return e.name }

// path fills the template's {placeholders} in order with escaped values.
func (e Endpoint) path(values ...string) string {
	p := e.Route
	for _, v := range values {
		open := strings.IndexByte(p, '{')
		end := strings.IndexByte(p, '}')
		if open < 0 || end < open {
			break
		}
		p = p[:open] + url.PathEscape(v) + p[end+1:]
	}
	return p
}

// Every route of the public API the scenarios call, one line each.
var (
	epRegister       = NewEndpoint(http.MethodPost, "/api/users/register")
	epLogin          = NewEndpoint(http.MethodPost, "/api/users/login")
	epMe             = NewEndpoint(http.MethodGet, "/api/users/me")
	epListProducts   = NewEndpoint(http.MethodGet, "/api/products")
	epProduct        = NewEndpoint(http.MethodGet, "/api/products/{id}")
	epCategories     = NewEndpoint(http.MethodGet, "/api/categories")
	epCart           = NewEndpoint(http.MethodGet, "/api/cart")
	epAddCartItem    = NewEndpoint(http.MethodPost, "/api/cart/items")
	epUpdateCartItem = NewEndpoint(http.MethodPut, "/api/cart/items/{product_id}")
	epRemoveCartItem = NewEndpoint(http.MethodDelete, "/api/cart/items/{product_id}")
	epClearCart      = NewEndpoint(http.MethodDelete, "/api/cart")
	epCheckout       = NewEndpoint(http.MethodPost, "/api/checkout")
	epOrders         = NewEndpoint(http.MethodGet, "/api/orders")
	epOrder          = NewEndpoint(http.MethodGet, "/api/orders/{id}")
	epShipment       = NewEndpoint(http.MethodGet, "/api/orders/{id}/shipment")
)

var endpoints = []Endpoint{
	epListProducts, epProduct, epCategories,
	epRegister, epLogin, epMe,
	epCart, epAddCartItem, epUpdateCartItem, epRemoveCartItem, epClearCart,
	epCheckout, epOrders, epOrder, epShipment,
}

// Endpoints lists every route the scenarios call, in the reports' order.
func Endpoints() []Endpoint { return append([]Endpoint(nil), endpoints...) }

// URLEndpoint names the -url mode's only endpoint after its path, which the operator
// chose and which therefore cannot multiply.
func URLEndpoint(u *url.URL) Endpoint {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return NewEndpoint(http.MethodGet, p)
}

// Names lists the endpoints' names.
func Names(eps []Endpoint) []string {
	names := make([]string, len(eps))
	for i, e := range eps {
		names[i] = e.String()
	}
	return names
}

// StatusClasses are the bounded forms of a status code: by its first digit, or none
// when no response came.
var StatusClasses = []string{"1xx", "2xx", "3xx", "4xx", "5xx", "none"}

// StatusClass is the bounded form of a status code used in metrics and reports.
func StatusClass(status int) string {
	if status >= 100 && status < 600 {
		return StatusClasses[status/100-1]
	}
	return "none"
}
