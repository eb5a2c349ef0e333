package payments_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/shoptest"
	"github.com/otelshop/shop/services/payments"
)

// Void settles for good whether money was taken with a key: a charge made before it
// is what it answers; a charge arriving after it is refused. Raced a hundred times,
// each key ends one way or the other, never charged behind a void's back.
func TestVoid_ChargeAndVoidRacing_EachKeyOneOutcome(t *testing.T) {
	s := shoptest.Start(t, shoptest.Options{})
	pay := s.Payments(t)
	ctx := context.Background()
	card := payments.Card{Number: payments.CardSucceeds, Expiry: "12/39", CVC: "123"}

	// Before any charge: voided, and the key is spent.
	voided, err := pay.Void(ctx, "void-first-0001")
	if err != nil || voided.Status != payments.ChargeVoided {
		t.Fatalf("void of an unused key: %+v %v; want a voided charge", voided, err)
	}
	_, err = pay.Charge(ctx, "void-first-0001", 1000, card)
	var e *httpx.Error
	if !errors.As(err, &e) || e.Status != http.StatusConflict || e.Code != "charge_voided" {
		t.Errorf("a charge after the void: %v; want 409 charge_voided", err)
	}
	if again, err := pay.Void(ctx, "void-first-0001"); err != nil || again.ID != voided.ID {
		t.Errorf("voiding twice: %+v %v; want the same voided charge %s", again, err, voided.ID)
	}
	// After a charge: the charge, which stands.
	charged, err := pay.Charge(ctx, "void-after-0001", 1000, card)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := pay.Void(ctx, "void-after-0001"); err != nil || got.ID != charged.ID || got.Status != payments.ChargeSucceeded {
		t.Errorf("void after a charge: %+v %v; want the charge %s", got, err, charged.ID)
	}

	const keys = 100
	var wg sync.WaitGroup
	type outcome struct {
		charge    payments.Charge
		chargeErr error
		void      payments.Charge
		voidErr   error
	}
	outcomes := make([]outcome, keys)
	for i := range outcomes {
		key := fmt.Sprintf("void-race-%04d", i)
		wg.Go(func() { outcomes[i].charge, outcomes[i].chargeErr = pay.Charge(ctx, key, 1000, card) })
		wg.Go(func() { outcomes[i].void, outcomes[i].voidErr = pay.Void(ctx, key) })
	}
	wg.Wait()
	charges, voids := 0, 0
	for i, o := range outcomes {
		if o.voidErr != nil {
			t.Fatalf("key %d: void: %v", i, o.voidErr)
		}
		switch {
		case o.chargeErr == nil && o.void.ID == o.charge.ID && o.void.Status == payments.ChargeSucceeded:
			charges++ // charged first; the void answered that charge
		case errors.As(o.chargeErr, &e) && e.Code == "charge_voided" && o.void.Status == payments.ChargeVoided:
			voids++ // voided first; the charge took nothing
		default:
			t.Errorf("key %d: charge %+v (%v), void %+v: want one outcome for both", i, o.charge, o.chargeErr, o.void)
		}
	}
	t.Logf("%d keys charged first, %d voided first", charges, voids)
}
