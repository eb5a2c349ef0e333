package orders

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/services/payments"
)

// Whatever the body, a checkout request decodes without panic; what is accepted
// has a valid card and an address within bounds, with no NUL, and fingerprints.
func FuzzCheckoutRequest(f *testing.F) {
	f.Add([]byte(`{"payment":{"card_number":"4242424242424242","expiry":"12/39","cvc":"123"},"shipping_address":{"name":"A","line1":"B","city":"C","postal_code":"D","country":"DE"}}`))
	f.Add([]byte(`{"payment":{"card_number":"0000000000000000","expiry":"12/39","cvc":"123"},"shipping_address":{"name":"A\u0000","line1":"B","city":"C","postal_code":"D","country":"DE"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := httpx.Decode[checkoutRequest](httptest.NewRequest("POST", "/", bytes.NewReader(body)))
		if err != nil {
			return
		}
		if payments.ValidateCard(req.card(), time.Now()) != nil {
			t.Fatalf("accepted the card of %q", body)
		}
		a := req.ShippingAddress
		for _, v := range []string{a.Name, a.Line1, a.Line2, a.City, a.PostalCode, a.Country} {
			if !utf8.ValidString(v) || strings.ContainsRune(v, 0) || utf8.RuneCountInString(v) > 200 {
				t.Fatalf("accepted the address field %q", v)
			}
		}
		if len(req.fingerprint()) != 64 {
			t.Fatal("no fingerprint")
		}
	})
}
