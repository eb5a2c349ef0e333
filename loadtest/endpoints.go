package loadtest

import (
	"net/http"
	"net/url"
	"strings"
)

// endpoint names a gateway route by method and template. Only this name reaches
// metrics, span names and reports: raw paths carry product and order ids.
type endpoint struct {
	method string
	route  string
	// name is "METHOD route", built once: every request is labelled with it.
	name string
}

func newEndpoint(method, route string) endpoint {
	return endpoint{method: method, route: route, name: method + " " + route}
}

func (e endpoint) String() string { return e.name }

// path fills the template's {placeholders} in order with escaped values.
func (e endpoint) path(values ...string) string {
	p := e.route
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

// Every route of docs/contract.md's public API the scenarios call, one line each.
var (
	epRegister       = newEndpoint(http.MethodPost, "/api/users/register")
	epLogin          = newEndpoint(http.MethodPost, "/api/users/login")
	epMe             = newEndpoint(http.MethodGet, "/api/users/me")
	epListProducts   = newEndpoint(http.MethodGet, "/api/products")
	epProduct        = newEndpoint(http.MethodGet, "/api/products/{id}")
	epCategories     = newEndpoint(http.MethodGet, "/api/categories")
	epCart           = newEndpoint(http.MethodGet, "/api/cart")
	epAddCartItem    = newEndpoint(http.MethodPost, "/api/cart/items")
	epUpdateCartItem = newEndpoint(http.MethodPut, "/api/cart/items/{product_id}")
	epRemoveCartItem = newEndpoint(http.MethodDelete, "/api/cart/items/{product_id}")
	epClearCart      = newEndpoint(http.MethodDelete, "/api/cart")
	epCheckout       = newEndpoint(http.MethodPost, "/api/checkout")
	epOrders         = newEndpoint(http.MethodGet, "/api/orders")
	epOrder          = newEndpoint(http.MethodGet, "/api/orders/{id}")
	epShipment       = newEndpoint(http.MethodGet, "/api/orders/{id}/shipment")
)

var gatewayEndpoints = []endpoint{
	epListProducts, epProduct, epCategories,
	epRegister, epLogin, epMe,
	epCart, epAddCartItem, epUpdateCartItem, epRemoveCartItem, epClearCart,
	epCheckout, epOrders, epOrder, epShipment,
}

func gatewayEndpointNames() []string {
	names := make([]string, len(gatewayEndpoints))
	for i, e := range gatewayEndpoints {
		names[i] = e.String()
	}
	return names
}

// singleEndpoint names the -url mode's only endpoint after its path, which the operator
// chose and which therefore cannot multiply.
func singleEndpoint(u *url.URL) endpoint {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return newEndpoint(http.MethodGet, p)
}

// statusClasses are the bounded forms of a status code, by its first digit.
var statusClasses = [...]string{1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}

// statusClass is the bounded form of a status code used in metrics and reports.
func statusClass(status int) string {
	if status >= 100 && status < 600 {
		return statusClasses[status/100]
	}
	return "none"
}
