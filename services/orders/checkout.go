package orders

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/services/payments"
)

// RoutingKeyOrderPlaced is the routing key of the event announcing a placed order.
const RoutingKeyOrderPlaced = "order.placed"

// OrderPlaced is the event's body.
type OrderPlaced struct {
	OrderID         string    `json:"order_id"`
	UserID          string    `json:"user_id"`
	Items           []Item    `json:"items"`
	TotalCents      int64     `json:"total_cents"`
	Currency        string    `json:"currency"`
	ShippingAddress Address   `json:"shipping_address"`
	PlacedAt        time.Time `json:"placed_at"`
}

// Failure reasons recorded on failed orders and counted in shop.orders.failed.
const (
	reasonEmptyCart          = "empty_cart"
	reasonUnknownProduct     = "unknown_product"
	reasonOutOfStock         = "out_of_stock"
	reasonInventoryDown      = "inventory_unavailable"
	reasonPaymentDeclined    = "payment_declined"
	reasonPaymentDown        = "payment_unavailable"
	reasonReservationExpired = "reservation_expired"
	reasonStoreDown          = "order_store_unavailable"
	reasonAbandoned          = "abandoned"
)

type checkoutRequest struct {
	Payment         paymentDetails `json:"payment"`
	ShippingAddress Address        `json:"shipping_address"`
}

type paymentDetails struct {
	CardNumber string `json:"card_number"`
	Expiry     string `json:"expiry"`
	CVC        string `json:"cvc"`
}

var countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)

func (r *checkoutRequest) Validate() error {
	r.Payment.CardNumber = strings.ReplaceAll(r.Payment.CardNumber, " ", "")
	if err := payments.ValidateCard(r.card(), time.Now()); err != nil {
		var e *httpx.Error
		if errors.As(err, &e) {
			// The field names of this API, not of the payments API.
			e.Field = map[string]string{"card.number": "payment.card_number", "card.expiry": "payment.expiry", "card.cvc": "payment.cvc"}[e.Field]
		}
		return err
	}
	a := &r.ShippingAddress
	for _, f := range []struct {
		name, value string
		required    bool
	}{
		{"shipping_address.name", a.Name, true},
		{"shipping_address.line1", a.Line1, true},
		{"shipping_address.line2", a.Line2, false},
		{"shipping_address.city", a.City, true},
		{"shipping_address.postal_code", a.PostalCode, true},
	} {
		n := utf8.RuneCountInString(strings.TrimSpace(f.value))
		if (f.required && n == 0) || n > 200 {
			return httpx.Invalid(f.name, "must be 1 to 200 characters")
		}
	}
	if !countryPattern.MatchString(a.Country) {
		return httpx.Invalid("shipping_address.country", "must be an ISO 3166-1 alpha-2 code such as DE")
	}
	return nil
}

// fingerprint tells requests apart for an idempotency key: the address and the
// card's last four digits and expiry (a hash of the whole number would be a
// guessable stand-in for it).
func (r *checkoutRequest) fingerprint() string {
	a, n := r.ShippingAddress, r.Payment.CardNumber
	h := sha256.New()
	for _, part := range []string{a.Name, a.Line1, a.Line2, a.City, a.PostalCode, a.Country, n[max(0, len(n)-4):], r.Payment.Expiry} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (r *checkoutRequest) card() payments.Card {
	return payments.Card{Number: r.Payment.CardNumber, Expiry: r.Payment.Expiry, CVC: r.Payment.CVC}
}
