package payments

import (
	"errors"
	"testing"
	"time"

	"github.com/otelshop/shop/internal/httpx"
)

func TestValidateCard(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		card      Card
		wantField string // "" when valid
	}{
		{Card{Number: CardSucceeds, Expiry: "12/26", CVC: "123"}, ""}, // good through the end of its month
		{Card{Number: "378282246310005", Expiry: "01/30", CVC: "1234"}, ""},
		{Card{Number: "4242424242424241", Expiry: "12/30", CVC: "123"}, "card.number"}, // Luhn
		{Card{Number: "4242 4242 4242 4242", Expiry: "12/30", CVC: "123"}, "card.number"},
		{Card{Number: "42424242424", Expiry: "12/30", CVC: "123"}, "card.number"},
		{Card{Number: CardSucceeds, Expiry: "11/26", CVC: "123"}, "card.expiry"},
		{Card{Number: CardSucceeds, Expiry: "13/30", CVC: "123"}, "card.expiry"},
		{Card{Number: CardSucceeds, Expiry: "1230", CVC: "123"}, "card.expiry"},
		{Card{Number: CardSucceeds, Expiry: "12/30", CVC: "12"}, "card.cvc"},
		{Card{Number: CardSucceeds, Expiry: "12/30", CVC: "12a"}, "card.cvc"},
		{Card{Number: CardSucceeds, Expiry: "12/30", CVC: "1234"}, "card.cvc"},         // Visa: 3
		{Card{Number: "378282246310005", Expiry: "12/30", CVC: "123"}, "card.cvc"},     // Amex: 4
		{Card{Number: "0000000000000000", Expiry: "12/30", CVC: "123"}, "card.number"}, // Luhn-valid, no network
		{Card{Number: "1234567812345670", Expiry: "12/30", CVC: "123"}, "card.number"},
		{Card{Number: "4242424242424242424", Expiry: "12/30", CVC: "123"}, "card.number"}, // Luhn fails at 19
		{Card{Number: "5555555555554444", Expiry: "12/30", CVC: "123"}, ""},
	}
	for _, tt := range tests {
		err := ValidateCard(tt.card, now)
		var e *httpx.Error
		switch {
		case tt.wantField == "" && err != nil:
			t.Errorf("%+v: %v, want valid", tt.card, err)
		case tt.wantField != "" && (!errors.As(err, &e) || e.Field != tt.wantField):
			t.Errorf("%+v: %v, want invalid %s", tt.card, err, tt.wantField)
		}
	}
}

func TestBrand(t *testing.T) {
	for number, want := range map[string]string{
		"4242424242424242": "visa", "5555555555554444": "mastercard", "2223003122003222": "mastercard",
		"378282246310005": "amex", "6011111111111117": "discover", "0000000000000000": "", "9999999999999995": "",
	} {
		if got := brand(number).name; got != want {
			t.Errorf("brand(%s) = %s, want %s", number, got, want)
		}
	}
}
