package loadtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The gateway's public API as docs/contract.md describes it, one method per route. Each
// checks the response against the contract (a wrong body is a bad_response) and keeps
// what the shopper needs next.

type product struct {
	ID         string `json:"id"`
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	Category   string `json:"category"`
	PriceCents int64  `json:"price_cents"`
	Currency   string `json:"currency"`
}

type productPage struct {
	Products []product `json:"products"`
	Page     int       `json:"page"`
	PageSize int       `json:"page_size"`
	Total    int       `json:"total"`
}

type category struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

type user struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

type cartItem struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

type order struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	TotalCents int64  `json:"total_cents"`
}

// pageSize is what a shop front end asks for; the contract's default.
const pageSize = 20

type listQuery struct {
	page     int
	size     int
	category string
	search   string
}

func (q listQuery) encode() string {
	v := url.Values{}
	v.Set("page", strconv.Itoa(max(q.page, 1)))
	size := q.size
	if size == 0 {
		size = pageSize
	}
	v.Set("page_size", strconv.Itoa(size))
	if q.category != "" {
		v.Set("category", q.category)
	}
	if q.search != "" {
		v.Set("q", q.search)
	}
	return v.Encode()
}

func decodeProductPage(body []byte, page *productPage) error {
	if err := json.Unmarshal(body, page); err != nil {
		return err
	}
	if page.Products == nil {
		return errors.New("no products array")
	}
	for _, p := range page.Products {
		if p.ID == "" {
			return errors.New("product without id")
		}
	}
	return nil
}

func (s *session) listProducts(q listQuery) (productPage, error) {
	var page productPage
	err := s.do(&call{
		ep:     epListProducts,
		path:   epListProducts.path(),
		query:  q.encode(),
		decode: func(_ int, b []byte) error { return decodeProductPage(b, &page) },
	})
	// Discovery ranks what it finds itself; measured sessions top the catalog up.
	if err == nil && s.setup == nil {
		s.r.catalog.observe(page.Products)
	}
	return page, err
}

func (s *session) product(id string) (product, error) {
	var p product
	err := s.do(&call{
		ep:   epProduct,
		path: epProduct.path(id),
		decode: func(_ int, b []byte) error {
			if err := json.Unmarshal(b, &p); err != nil {
				return err
			}
			if p.ID != id {
				return fmt.Errorf("asked for product %q, got %q", id, p.ID)
			}
			return nil
		},
	})
	return p, err
}

func (s *session) categories() ([]string, error) {
	var body struct {
		Categories []category `json:"categories"`
	}
	err := s.do(&call{
		ep:   epCategories,
		path: epCategories.path(),
		decode: func(_ int, b []byte) error {
			if err := json.Unmarshal(b, &body); err != nil {
				return err
			}
			if body.Categories == nil {
				return errors.New("no categories array")
			}
			return nil
		},
	})
	names := make([]string, 0, len(body.Categories))
	for _, c := range body.Categories {
		if c.Name != "" {
			names = append(names, c.Name)
		}
	}
	return names, err
}

func (s *session) register(a *account) error {
	return s.do(&call{
		ep:     epRegister,
		path:   epRegister.path(),
		body:   map[string]string{"email": a.email, "password": a.password, "name": a.name},
		accept: []int{http.StatusCreated},
		decode: func(_ int, b []byte) error {
			var u user
			if err := json.Unmarshal(b, &u); err != nil {
				return err
			}
			if u.ID == "" {
				return errors.New("registered user without id")
			}
			return nil
		},
	})
}

func (s *session) login(a *account) error {
	return s.do(&call{
		ep:   epLogin,
		path: epLogin.path(),
		body: map[string]string{"email": a.email, "password": a.password},
		decode: func(_ int, b []byte) error {
			var body struct {
				Token string `json:"token"`
			}
			if err := json.Unmarshal(b, &body); err != nil {
				return err
			}
			if body.Token == "" {
				return errors.New("login without token")
			}
			s.token = body.Token
			return nil
		},
	})
}

func (s *session) me() error {
	return s.do(&call{
		ep:    epMe,
		path:  epMe.path(),
		token: s.token,
		decode: func(_ int, b []byte) error {
			var u user
			if err := json.Unmarshal(b, &u); err != nil {
				return err
			}
			if u.ID == "" {
				return errors.New("user without id")
			}
			return nil
		},
	})
}

// decodeCart replaces the session's idea of the cart with the server's.
func (s *session) decodeCart(_ int, b []byte) error {
	var body struct {
		Items []cartItem `json:"items"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return err
	}
	if body.Items == nil {
		return errors.New("no items array")
	}
	s.cart = make(map[string]int, len(body.Items))
	for _, it := range body.Items {
		if it.ProductID == "" || it.Quantity <= 0 {
			return fmt.Errorf("cart item %+v", it)
		}
		s.cart[it.ProductID] = it.Quantity
	}
	return nil
}

func (s *session) getCart() error {
	return s.do(&call{ep: epCart, path: epCart.path(), token: s.token, decode: s.decodeCart})
}

func (s *session) addToCart(id string, qty int) error {
	return s.do(&call{
		ep:     epAddCartItem,
		path:   epAddCartItem.path(),
		token:  s.token,
		body:   map[string]any{"product_id": id, "quantity": qty},
		decode: s.decodeCart,
	})
}

func (s *session) updateCartItem(id string, qty int) error {
	return s.do(&call{
		ep:     epUpdateCartItem,
		path:   epUpdateCartItem.path(id),
		token:  s.token,
		body:   map[string]any{"quantity": qty},
		decode: s.decodeCart,
	})
}

func (s *session) removeCartItem(id string) error {
	return s.do(&call{
		ep:     epRemoveCartItem,
		path:   epRemoveCartItem.path(id),
		token:  s.token,
		decode: s.decodeCart,
	})
}

func (s *session) clearCart() error {
	err := s.do(&call{
		ep:     epClearCart,
		path:   epClearCart.path(),
		token:  s.token,
		accept: []int{http.StatusNoContent},
	})
	if err == nil {
		clear(s.cart)
	}
	return err
}

// checkout pays with the provider's always-succeeding test card. It returns the new
// order id, or "" when the shop answered 409 (out of stock or empty cart), which is a
// business outcome under load, not a failure.
func (s *session) checkout() (string, error) {
	addr := addresses[s.rng.IntN(len(addresses))]
	expiry := time.Now().AddDate(3, 0, 0)
	body := map[string]any{
		"payment": map[string]string{
			"card_number": testCardNumber,
			"expiry":      fmt.Sprintf("%02d/%02d", int(expiry.Month()), expiry.Year()%100),
			"cvc":         fmt.Sprintf("%03d", 100+s.rng.IntN(900)),
		},
		"shipping_address": map[string]string{
			"name":        s.account.name,
			"line1":       addr.line1,
			"city":        addr.city,
			"postal_code": addr.postalCode,
			"country":     addr.country,
		},
	}
	var id string
	err := s.do(&call{
		ep:     epCheckout,
		path:   epCheckout.path(),
		token:  s.token,
		body:   body,
		header: map[string]string{"Idempotency-Key": randomHex(s.rng, 16)},
		accept: []int{http.StatusCreated, http.StatusConflict},
		decode: func(status int, b []byte) error {
			if status == http.StatusConflict {
				return nil
			}
			o, err := decodeOrder(b)
			id = o.ID
			return err
		},
	})
	if err == nil && id != "" {
		clear(s.cart)
		s.orders = append(s.orders, id)
	}
	return id, err
}

// testCardNumber always succeeds at the simulated payment provider (docs/contract.md).
const testCardNumber = "4242424242424242"

func decodeOrder(b []byte) (order, error) {
	var o order
	if err := json.Unmarshal(b, &o); err != nil {
		return o, err
	}
	if o.ID == "" {
		return o, errors.New("order without id")
	}
	switch o.Status {
	case "pending", "placed", "failed":
	default:
		return o, fmt.Errorf("order status %q", o.Status)
	}
	return o, nil
}

func (s *session) listOrders() ([]order, error) {
	var body struct {
		Orders []order `json:"orders"`
	}
	err := s.do(&call{
		ep:    epOrders,
		path:  epOrders.path(),
		token: s.token,
		decode: func(_ int, b []byte) error {
			if err := json.Unmarshal(b, &body); err != nil {
				return err
			}
			if body.Orders == nil {
				return errors.New("no orders array")
			}
			return nil
		},
	})
	return body.Orders, err
}

func (s *session) order(id string) error {
	return s.do(&call{
		ep:    epOrder,
		path:  epOrder.path(id),
		token: s.token,
		decode: func(_ int, b []byte) error {
			o, err := decodeOrder(b)
			if err == nil && o.ID != id {
				return fmt.Errorf("asked for order %q, got %q", id, o.ID)
			}
			return err
		},
	})
}

// shipment accepts 404: shipping creates the shipment asynchronously.
func (s *session) shipment(orderID string) error {
	return s.do(&call{
		ep:     epShipment,
		path:   epShipment.path(orderID),
		token:  s.token,
		accept: []int{http.StatusOK, http.StatusNotFound},
	})
}
