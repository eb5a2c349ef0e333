package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// One builder per route. Each fills in the path, query and body the contract asks for,
// and decodes the answer into the caller's variables, checking what the shopper relies
// on (a wrong body is a bad_response).

// Product is a catalog entry as listings and the product page show it.
type Product struct {
	ID         string `json:"id"`
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	Category   string `json:"category"`
	PriceCents int64  `json:"price_cents"`
	Currency   string `json:"currency"`
}

// ProductPage is one page of a product listing.
type ProductPage struct {
	Products []Product `json:"products"`
	Page     int       `json:"page"`
	PageSize int       `json:"page_size"`
	Total    int       `json:"total"`
}

// Order is an order as the order list and the order page show it.
type Order struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	TotalCents int64  `json:"total_cents"`
}

// Cart is the cart's quantities by product id.
type Cart map[string]int

// PageSize is what a shop front end asks for; the contract's default.
const PageSize = 20

// ListQuery selects a page of the product listing.
type ListQuery struct {
	Page     int // from 1
	Size     int // 0 means PageSize
	Category string
	Search   string
}

func (q ListQuery) encode() string {
	v := url.Values{}
	v.Set("page", strconv.Itoa(max(q.Page, 1)))
	size := q.Size
	if size == 0 {
		size = PageSize
	}
	v.Set("page_size", strconv.Itoa(size))
	if q.Category != "" {
		v.Set("category", q.Category)
	}
	if q.Search != "" {
		v.Set("q", q.Search)
	}
	return v.Encode()
}

// ListProducts lists a page of products into page.
func ListProducts(q ListQuery, page *ProductPage) *Call {
	return &Call{
		Endpoint: epListProducts,
		Path:     epListProducts.path(),
		Query:    q.encode(),
		Decode: func(_ int, b []byte) error {
			if err := json.Unmarshal(b, page); err != nil {
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
		},
	}
}

// GetProduct opens the product page of id into p.
func GetProduct(id string, p *Product) *Call {
	return &Call{
		Endpoint: epProduct,
		Path:     epProduct.path(id),
		Decode: func(_ int, b []byte) error {
			if err := json.Unmarshal(b, p); err != nil {
				return err
			}
			if p.ID != id {
				return fmt.Errorf("asked for product %q, got %q", id, p.ID)
			}
			return nil
		},
	}
}

// Categories lists the category names into names.
func Categories(names *[]string) *Call {
	return &Call{
		Endpoint: epCategories,
		Path:     epCategories.path(),
		Decode: func(_ int, b []byte) error {
			var body struct {
				Categories []struct {
					Name string `json:"name"`
				} `json:"categories"`
			}
			if err := json.Unmarshal(b, &body); err != nil {
				return err
			}
			if body.Categories == nil {
				return errors.New("no categories array")
			}
			for _, c := range body.Categories {
				if c.Name != "" {
					*names = append(*names, c.Name)
				}
			}
			return nil
		},
	}
}

// Credentials are a shopper's account details as registration and login take them.
type Credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name,omitempty"` // registration only
}

// Register creates the account.
func Register(c Credentials) *Call {
	return &Call{
		Endpoint: epRegister,
		Path:     epRegister.path(),
		Body:     c,
		Accept:   []int{http.StatusCreated},
		Decode:   decodeUser("registered user without id"),
	}
}

// Login signs in and keeps the session token in token.
func Login(email, password string, token *string) *Call {
	return &Call{
		Endpoint: epLogin,
		Path:     epLogin.path(),
		Body:     Credentials{Email: email, Password: password},
		Decode: func(_ int, b []byte) error {
			var body struct {
				Token string `json:"token"`
			}
			if err := json.Unmarshal(b, &body); err != nil {
				return err
			}
			if body.Token == "" {
				return errors.New("login without token")
			}
			*token = body.Token
			return nil
		},
	}
}

// Me shows the signed-in shopper's profile.
func Me(token string) *Call {
	return &Call{Endpoint: epMe, Path: epMe.path(), Token: token, Decode: decodeUser("user without id")}
}

func decodeUser(noID string) func(int, []byte) error {
	return func(_ int, b []byte) error {
		var u struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &u); err != nil {
			return err
		}
		if u.ID == "" {
			return errors.New(noID)
		}
		return nil
	}
}

// GetCart shows the cart; cart becomes the server's idea of it.
func GetCart(token string, cart *Cart) *Call {
	return cartCall(epCart, epCart.path(), token, nil, cart)
}

// AddCartItem puts qty of product id in the cart.
func AddCartItem(token, id string, qty int, cart *Cart) *Call {
	return cartCall(epAddCartItem, epAddCartItem.path(), token, CartItem{ProductID: id, Quantity: qty}, cart)
}

// UpdateCartItem sets the quantity of product id in the cart.
func UpdateCartItem(token, id string, qty int, cart *Cart) *Call {
	return cartCall(epUpdateCartItem, epUpdateCartItem.path(id), token, struct {
		Quantity int `json:"quantity"`
	}{qty}, cart)
}

// RemoveCartItem takes product id out of the cart.
func RemoveCartItem(token, id string, cart *Cart) *Call {
	return cartCall(epRemoveCartItem, epRemoveCartItem.path(id), token, nil, cart)
}

// ClearCart empties the cart.
func ClearCart(token string) *Call {
	return &Call{Endpoint: epClearCart, Path: epClearCart.path(), Token: token, Accept: []int{http.StatusNoContent}}
}

// CartItem is one line of the cart.
type CartItem struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

// cartCall is a call whose answer is the whole cart.
func cartCall(ep Endpoint, path, token string, body any, cart *Cart) *Call {
	return &Call{
		Endpoint: ep,
		Path:     path,
		Token:    token,
		Body:     body,
		Decode: func(_ int, b []byte) error {
			var body struct {
				Items []CartItem `json:"items"`
			}
			if err := json.Unmarshal(b, &body); err != nil {
				return err
			}
			if body.Items == nil {
				return errors.New("no items array")
			}
			*cart = make(Cart, len(body.Items))
			for _, it := range body.Items {
				if it.ProductID == "" || it.Quantity <= 0 {
					return fmt.Errorf("cart item %+v", it)
				}
				(*cart)[it.ProductID] = it.Quantity
			}
			return nil
		},
	}
}

// TestCardNumber always succeeds at the simulated payment provider (docs/contract.md).
const TestCardNumber = "4242424242424242"

// TestCard is a card of one network that always succeeds (docs/contract.md).
type TestCard struct {
	Number    string
	CVCDigits int
}

// TestCards are the always-succeeding cards of each network, weighted roughly
// as card payments split between them, so the load exercises every brand and a
// fault of one brand shows up as part of the traffic.
var TestCards = []struct {
	TestCard
	Weight int
}{
	{TestCard{TestCardNumber, 3}, 55},
	{TestCard{"5555555555554444", 3}, 30},
	{TestCard{"378282246310005", 4}, 10},
	{TestCard{"6011111111111117", 3}, 5},
}

// CheckoutRequest is what the shopper pays with and where the order goes.
type CheckoutRequest struct {
	Payment         Payment `json:"payment"`
	ShippingAddress Address `json:"shipping_address"`
}

// Payment is a card.
type Payment struct {
	CardNumber string `json:"card_number"`
	Expiry     string `json:"expiry"` // MM/YY
	CVC        string `json:"cvc"`
}

// Address is a shipping address.
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

// Checkout places the order for the cart. orderID receives the new order's id, or ""
// when the shop answered 409 (out of stock or empty cart), which is a business outcome
// under load, not a failure.
func Checkout(token, idempotencyKey string, r CheckoutRequest, orderID *string) *Call {
	return &Call{
		Endpoint: epCheckout,
		Path:     epCheckout.path(),
		Token:    token,
		Body:     r,
		Header:   map[string]string{"Idempotency-Key": idempotencyKey},
		Accept:   []int{http.StatusCreated, http.StatusConflict},
		Decode: func(status int, b []byte) error {
			if status == http.StatusConflict {
				return nil
			}
			o, err := decodeOrder(b)
			*orderID = o.ID
			return err
		},
	}
}

func decodeOrder(b []byte) (Order, error) {
	var o Order
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

// ListOrders lists the shopper's orders into orders.
func ListOrders(token string, orders *[]Order) *Call {
	return &Call{
		Endpoint: epOrders,
		Path:     epOrders.path(),
		Token:    token,
		Decode: func(_ int, b []byte) error {
			var body struct {
				Orders []Order `json:"orders"`
			}
			if err := json.Unmarshal(b, &body); err != nil {
				return err
			}
			if body.Orders == nil {
				return errors.New("no orders array")
			}
			*orders = body.Orders
			return nil
		},
	}
}

// GetOrder opens order id.
func GetOrder(token, id string) *Call {
	return &Call{
		Endpoint: epOrder,
		Path:     epOrder.path(id),
		Token:    token,
		Decode: func(_ int, b []byte) error {
			o, err := decodeOrder(b)
			if err == nil && o.ID != id {
				return fmt.Errorf("asked for order %q, got %q", id, o.ID)
			}
			return err
		},
	}
}

// Shipment shows the order's shipment. It accepts 404: shipping creates the shipment
// asynchronously.
func Shipment(token, orderID string) *Call {
	return &Call{
		Endpoint: epShipment,
		Path:     epShipment.path(orderID),
		Token:    token,
		Accept:   []int{http.StatusOK, http.StatusNotFound},
	}
}

// Get is a GET of ep's route with a raw query, accepting any 2xx a plain URL may answer
// (the -url mode).
func Get(ep Endpoint, query string) *Call {
	return &Call{Endpoint: ep, Path: ep.Route, Query: query, Accept: []int{200, 201, 202, 204}}
}
