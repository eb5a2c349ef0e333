package orders

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/resilience"
	"github.com/otelshop/shop/services/cart"
	"github.com/otelshop/shop/services/catalog"
	"github.com/otelshop/shop/services/inventory"
	"github.com/otelshop/shop/services/payments"
	"github.com/otelshop/shop/telemetry"
)

// The saga's table tests: every step × outcome × compensation result, against
// in-memory stand-ins for cart, catalog, inventory, payments and the order store.
// They run in milliseconds with no store reachable; the invariants on the real
// stores are in checkout_test.go.

var (
	errDown      = &httpx.UpstreamError{Err: errors.New("connection refused")}
	errNoAnswer  = &httpx.UpstreamError{Err: errors.Join(errors.New("read: i/o timeout"), context.DeadlineExceeded)}
	errGRPCDown  = errors.New("rpc error: code = Unavailable")
	errNotFound  = &httpx.Error{Status: http.StatusNotFound, Code: "not_found", Message: "charge not found"}
	errStoreDown = errors.New("database is down")
	errVoided    = &httpx.Error{Status: http.StatusConflict, Code: "charge_voided", Message: "this idempotency key was voided"}
)

// crash stands for the process dying right after a step took effect: the
// goroutine running the saga stops there, compensations included.
type crash struct{ after string }

func (c crash) at(step string) {
	if c.after == step {
		runtime.Goexit()
	}
}

type fakeCart struct {
	cart.Cart
	getErr, clearErr error
	cleared          bool
}

func (f *fakeCart) Get(context.Context) (cart.Cart, error) { return f.Cart, f.getErr }
func (f *fakeCart) Clear(context.Context) error {
	f.cleared = f.clearErr == nil
	return f.clearErr
}

type fakeCatalog map[string]catalog.Product

func (f fakeCatalog) Products(_ context.Context, ids []string) (map[string]catalog.Product, error) {
	out := map[string]catalog.Product{}
	for _, id := range ids {
		if p, ok := f[id]; ok {
			out[id] = p
		}
	}
	return out, nil
}

// fakeStock holds the reservation of each order: reserved, committed or released.
type fakeStock struct {
	mu                                sync.Mutex
	holds                             map[string]string
	reserveErr, commitErr, releaseErr error
	crash                             crash
}

func (f *fakeStock) Reserve(_ context.Context, orderID string, _ []inventory.Item) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if errors.Is(f.reserveErr, inventory.ErrInsufficientStock) {
		return f.reserveErr
	}
	if f.reserveErr != errGRPCDown || f.reserveErr == nil {
		f.holds[orderID] = "reserved" // an answer lost after the hold was made still holds
	}
	f.crash.at("reserve")
	return f.reserveErr
}

func (f *fakeStock) Commit(_ context.Context, orderID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.commitErr != nil {
		if errors.Is(f.commitErr, inventory.ErrNotHeld) {
			f.holds[orderID] = "released" // expired meanwhile
		}
		return f.commitErr
	}
	f.holds[orderID] = "committed"
	f.crash.at("commit")
	return nil
}

// Release, as inventory does, refuses a committed reservation: Restock returns that.
func (f *fakeStock) Release(_ context.Context, orderID, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.releaseErr != nil {
		return f.releaseErr
	}
	if f.holds[orderID] == "committed" {
		return inventory.ErrSold
	}
	f.holds[orderID] = "released"
	return nil
}

func (f *fakeStock) Restock(_ context.Context, orderID, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.releaseErr != nil {
		return f.releaseErr
	}
	f.holds[orderID] = "released"
	return nil
}

func (f *fakeStock) hold(orderID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.holds[orderID]
}

// fakePayments keeps the charges by idempotency key, as payments does.
type fakePayments struct {
	mu        sync.Mutex
	byKey     map[string]*payments.Charge
	decline   bool
	chargeErr error // returned by Charge; with chargeTakes the charge happens anyway
	// chargeTakes: the charge is made although Charge answers chargeErr (the answer
	// was lost on the way back).
	chargeTakes bool
	lookupErr   error // returned by ChargeByKey and Void
	refundErr   error
	crash       crash
}

func (f *fakePayments) Charge(_ context.Context, key string, amount int64, _ payments.Card) (payments.Charge, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.byKey[key]; ok && c.Status == payments.ChargeVoided {
		return payments.Charge{}, errVoided // the key was voided before this charge arrived
	}
	if f.chargeErr == nil || f.chargeTakes {
		c := &payments.Charge{ID: "charge-" + key, IdempotencyKey: key, AmountCents: amount, Status: payments.ChargeSucceeded}
		if f.decline {
			c.Status, c.DeclineReason = payments.ChargeDeclined, "card_declined"
		}
		f.byKey[key] = c
	}
	f.crash.at("charge")
	if f.chargeErr != nil {
		return payments.Charge{}, f.chargeErr
	}
	return *f.byKey[key], nil
}

func (f *fakePayments) ChargeByKey(_ context.Context, key string) (payments.Charge, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lookupErr != nil {
		return payments.Charge{}, f.lookupErr
	}
	c, ok := f.byKey[key]
	if !ok {
		return payments.Charge{}, errNotFound
	}
	return *c, nil
}

// Void, as payments does, answers the key's charge, or takes the key with a voided one.
func (f *fakePayments) Void(_ context.Context, key string) (payments.Charge, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lookupErr != nil {
		return payments.Charge{}, f.lookupErr
	}
	c, ok := f.byKey[key]
	if !ok {
		c = &payments.Charge{ID: "void-" + key, IdempotencyKey: key, Status: payments.ChargeVoided}
		f.byKey[key] = c
	}
	return *c, nil
}

func (f *fakePayments) Refund(_ context.Context, chargeID string) (payments.Refund, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refundErr != nil {
		return payments.Refund{}, f.refundErr
	}
	for _, c := range f.byKey {
		if c.ID == chargeID {
			c.Refunded = true
			return payments.Refund{ID: "refund-" + chargeID, ChargeID: chargeID, AmountCents: c.AmountCents}, nil
		}
	}
	return payments.Refund{}, errNotFound
}

// standing says whether money is taken for the order: a succeeded charge not refunded.
func (f *fakePayments) standing(orderID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.byKey[paymentKey(orderID)]
	return ok && c.Status == payments.ChargeSucceeded && !c.Refunded
}

type storedOrder struct {
	Order
	refundDue, releaseDue bool
	events                int
}

// fakeStore is the orders table and its outbox, in memory.
type fakeStore struct {
	mu                    sync.Mutex
	orders                map[string]*storedOrder
	placeErr, markFailErr error
	placeTakes            bool // markPlaced places the order but answers placeErr (the commit's answer lost)
	crash                 crash
}

func (f *fakeStore) byIdempotencyKey(_ context.Context, userID, key string) (Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.orders {
		if o.UserID == userID && o.IdempotencyKey == key {
			return o.Order, nil
		}
	}
	return Order{}, errNoOrder
}

func (f *fakeStore) createPending(_ context.Context, o *Order) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	o.CreatedAt = time.Now()
	f.orders[o.ID] = &storedOrder{Order: *o}
	return nil
}

func (f *fakeStore) liveByCartVersion(_ context.Context, userID string, version int64) (Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.orders {
		if o.UserID == userID && o.CartVersion == version && o.Status != StatusFailed {
			return o.Order, nil
		}
	}
	return Order{}, errNoOrder
}

func (f *fakeStore) markPlaced(_ context.Context, orderID, paymentID string, _ OutboxEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.placeErr != nil && !f.placeTakes {
		return f.placeErr
	}
	o := f.orders[orderID]
	if o.Status != StatusPending {
		return fmt.Errorf("order %s is no longer pending", orderID)
	}
	o.Status, o.PaymentID = StatusPlaced, paymentID
	o.events++
	f.crash.at("place")
	return f.placeErr
}

func (f *fakeStore) markFailed(_ context.Context, orderID, reason, paymentID string, refundDue bool) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.markFailErr != nil {
		return false, f.markFailErr
	}
	o := f.orders[orderID]
	if o.Status != StatusPending {
		return false, nil
	}
	o.Status, o.FailureReason, o.PaymentID, o.refundDue = StatusFailed, reason, paymentID, refundDue
	return true, nil
}

func (f *fakeStore) stalePending(_ context.Context, cutoff time.Time, _ int) ([]Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Order
	for _, o := range f.orders {
		if o.Status == StatusPending && o.CreatedAt.Before(cutoff) {
			out = append(out, o.Order)
		}
	}
	return out, nil
}

func (f *fakeStore) claimFailed(_ context.Context, orderID, reason, paymentID string, _ time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.markFailErr != nil {
		return false, f.markFailErr
	}
	o := f.orders[orderID]
	if o.Status != StatusPending {
		return false, nil
	}
	o.Status, o.FailureReason, o.PaymentID, o.refundDue, o.releaseDue = StatusFailed, reason, paymentID, true, true
	return true, nil
}

func (f *fakeStore) orderStatus(_ context.Context, orderID string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.orders[orderID].Status, nil
}

func (f *fakeStore) markReleaseDue(_ context.Context, orderID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.markFailErr != nil {
		return f.markFailErr
	}
	f.orders[orderID].releaseDue = true
	return nil
}

func (f *fakeStore) claimSettlements(context.Context, int, time.Duration) ([]settlement, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []settlement
	for id, o := range f.orders {
		if o.Status == StatusFailed && (o.refundDue || o.releaseDue) {
			out = append(out, settlement{orderID: id, reason: o.FailureReason, refundDue: o.refundDue, releaseDue: o.releaseDue})
		}
	}
	return out, nil
}

func (f *fakeStore) countRefundsDue(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for _, o := range f.orders {
		if o.refundDue {
			n++
		}
	}
	return n, nil
}

func (f *fakeStore) settled(_ context.Context, orderID string, refunded, released bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.orders[orderID]
	o.refundDue = o.refundDue && !refunded
	o.releaseDue = o.releaseDue && !released
	return nil
}

func (f *fakeStore) only(t *testing.T) storedOrder {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.orders) != 1 {
		t.Fatalf("%d orders stored, want 1", len(f.orders))
	}
	for _, o := range f.orders {
		return *o
	}
	panic("unreachable")
}

// world is one checkout's stand-ins.
type world struct {
	cart     *fakeCart
	stock    *fakeStock
	payments *fakePayments
	store    *fakeStore
	saga     *saga
}

func newWorld(t *testing.T) *world {
	t.Helper()
	tel, err := telemetry.Start(context.Background(), telemetry.Config{ServiceName: "orders-test", Disabled: true, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{
		cart:     &fakeCart{Cart: cart.Cart{Items: []cart.Item{{ProductID: "SKU-00001", Quantity: 2}}}},
		stock:    &fakeStock{holds: map[string]string{}},
		payments: &fakePayments{byKey: map[string]*payments.Charge{}},
		store:    &fakeStore{orders: map[string]*storedOrder{}},
	}
	w.saga = newSaga(sagaDeps{cart: w.cart, catalog: fakeCatalog{"SKU-00001": {ID: "SKU-00001", PriceCents: 1250}},
		inventory: w.stock, payments: w.payments, store: w.store}, tel)
	return w
}

// checkout runs one checkout on a goroutine of its own, which a crash ends.
func (w *world) checkout() (Order, error) {
	type result struct {
		o   Order
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer close(done)
		o, err := w.saga.checkout(context.Background(), "0192f0a4-2b6c-7d1e-8f00-112233445566", "", checkoutRequest{
			Payment:         paymentDetails{CardNumber: "4242424242424242", Expiry: "12/39", CVC: "123"},
			ShippingAddress: Address{Name: "A", Line1: "B", City: "C", PostalCode: "D", Country: "DE"},
		})
		done <- result{o, err}
	}()
	r, ok := <-done
	if !ok {
		return Order{}, errCrashed
	}
	return r.o, r.err
}

var errCrashed = errors.New("the process died mid-saga")

// status is how a checkout's answer reads to the client.
func status(err error) int {
	var e *httpx.Error
	switch {
	case err == nil:
		return http.StatusCreated
	case errors.Is(err, errCrashed):
		return 0
	case errors.As(err, &e):
		return e.Status
	}
	return http.StatusInternalServerError
}

func TestSaga_EveryStepOutcomeAndCompensation(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *world)
		// what the client is told, and what the order and the money end as
		wantStatus     int
		wantOrder      string // "" when no order is stored
		wantReason     string
		wantRefundDue  bool
		wantReleaseDue bool   // inventory did not confirm the stock returned
		wantHold       string // the reservation's end state
		wantCharged    bool   // money stands taken
		wantCleared    bool   // the cart was emptied
	}{
		{name: "placed", setup: func(*world) {},
			wantStatus: 201, wantOrder: StatusPlaced, wantHold: "committed", wantCharged: true, wantCleared: true},
		{name: "placed, cart not cleared", setup: func(w *world) { w.cart.clearErr = errDown },
			wantStatus: 201, wantOrder: StatusPlaced, wantHold: "committed", wantCharged: true},
		{name: "empty cart", setup: func(w *world) { w.cart.Items = nil }, wantStatus: 409},
		{name: "cart unreachable", setup: func(w *world) { w.cart.getErr = errDown }, wantStatus: 500},
		{name: "product no longer sold", setup: func(w *world) { w.cart.Items[0].ProductID = "SKU-99999" }, wantStatus: 409},

		{name: "reserve: out of stock", setup: func(w *world) { w.stock.reserveErr = inventory.ErrInsufficientStock },
			wantStatus: 409, wantOrder: StatusFailed, wantReason: reasonOutOfStock},
		{name: "reserve: inventory down, hold released", setup: func(w *world) { w.stock.reserveErr = errGRPCDown },
			wantStatus: 503, wantOrder: StatusFailed, wantReason: reasonInventoryDown, wantHold: "released"},
		{name: "reserve: answer lost after the hold, hold released", setup: func(w *world) { w.stock.reserveErr = errNoAnswer },
			wantStatus: 503, wantOrder: StatusFailed, wantReason: reasonInventoryDown, wantHold: "released"},
		{name: "reserve: answer lost, release fails too (release due; expiry too)", setup: func(w *world) {
			w.stock.reserveErr, w.stock.releaseErr = errNoAnswer, errGRPCDown
		}, wantStatus: 503, wantOrder: StatusFailed, wantReason: reasonInventoryDown, wantReleaseDue: true, wantHold: "reserved"},

		{name: "charge: declined", setup: func(w *world) { w.payments.decline = true },
			wantStatus: 402, wantOrder: StatusFailed, wantReason: reasonPaymentDeclined, wantHold: "released"},
		{name: "charge: payments down, nothing charged", setup: func(w *world) { w.payments.chargeErr = errDown },
			wantStatus: 503, wantOrder: StatusFailed, wantReason: reasonPaymentDown, wantHold: "released"},
		{name: "charge: breaker open, nothing sent", setup: func(w *world) {
			w.payments.chargeErr, w.payments.lookupErr = resilience.ErrOpen, errDown
		}, wantStatus: 503, wantOrder: StatusFailed, wantReason: reasonPaymentDown, wantHold: "released"},
		{name: "charge: timeout after the charge, found and refunded", setup: func(w *world) {
			w.payments.chargeErr, w.payments.chargeTakes = errNoAnswer, true
		}, wantStatus: 503, wantOrder: StatusFailed, wantReason: reasonPaymentDown, wantHold: "released"},
		{name: "charge: timeout after the charge, refund fails", setup: func(w *world) {
			w.payments.chargeErr, w.payments.chargeTakes, w.payments.refundErr = errNoAnswer, true, errDown
		}, wantStatus: 503, wantOrder: StatusFailed, wantReason: reasonPaymentDown, wantRefundDue: true, wantHold: "released", wantCharged: true},
		{name: "charge: timeout, lookup fails", setup: func(w *world) {
			w.payments.chargeErr, w.payments.chargeTakes, w.payments.lookupErr = errNoAnswer, true, errDown
		}, wantStatus: 503, wantOrder: StatusFailed, wantReason: reasonPaymentDown, wantRefundDue: true, wantHold: "released", wantCharged: true},

		{name: "commit: hold expired, refunded", setup: func(w *world) { w.stock.commitErr = inventory.ErrNotHeld },
			wantStatus: 409, wantOrder: StatusFailed, wantReason: reasonReservationExpired, wantHold: "released"},
		{name: "commit: hold expired, refund fails", setup: func(w *world) {
			w.stock.commitErr, w.payments.refundErr = inventory.ErrNotHeld, errDown
		}, wantStatus: 409, wantOrder: StatusFailed, wantReason: reasonReservationExpired, wantRefundDue: true, wantHold: "released", wantCharged: true},
		{name: "commit: inventory down, refunded and released", setup: func(w *world) { w.stock.commitErr = errGRPCDown },
			wantStatus: 503, wantOrder: StatusFailed, wantReason: reasonInventoryDown, wantHold: "released"},

		{name: "place: store down, refunded and released", setup: func(w *world) { w.store.placeErr = errStoreDown },
			wantStatus: 500, wantOrder: StatusFailed, wantReason: reasonStoreDown, wantHold: "released"},
		{name: "place: store down, refund fails", setup: func(w *world) {
			w.store.placeErr, w.payments.refundErr = errStoreDown, errDown
		}, wantStatus: 500, wantOrder: StatusFailed, wantReason: reasonStoreDown, wantRefundDue: true, wantHold: "released", wantCharged: true},
		{name: "place: answer lost after the placement, the order stands", setup: func(w *world) {
			w.store.placeErr, w.store.placeTakes = errStoreDown, true
		}, wantStatus: 201, wantOrder: StatusPlaced, wantHold: "committed", wantCharged: true, wantCleared: true},
		{name: "place: store down, the claim too: left pending for the sweeper", setup: func(w *world) {
			w.store.placeErr, w.store.markFailErr = errStoreDown, errStoreDown
		}, wantStatus: 500, wantOrder: StatusPending, wantHold: "committed", wantCharged: true},
		{name: "failure not recorded: left pending for the sweeper", setup: func(w *world) {
			w.payments.decline, w.store.markFailErr = true, errStoreDown
		}, wantStatus: 402, wantOrder: StatusPending, wantHold: "released"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			tt.setup(w)
			_, err := w.checkout()
			if got := status(err); got != tt.wantStatus {
				t.Errorf("answered %d (%v), want %d", got, err, tt.wantStatus)
			}
			if tt.wantOrder == "" {
				if len(w.store.orders) != 0 {
					t.Errorf("%d orders stored, want none", len(w.store.orders))
				}
				return
			}
			o := w.store.only(t)
			if o.Status != tt.wantOrder || o.FailureReason != tt.wantReason || o.refundDue != tt.wantRefundDue || o.releaseDue != tt.wantReleaseDue {
				t.Errorf("order %s/%q refund due %v release due %v, want %s/%q refund due %v release due %v",
					o.Status, o.FailureReason, o.refundDue, o.releaseDue, tt.wantOrder, tt.wantReason, tt.wantRefundDue, tt.wantReleaseDue)
			}
			if got := w.stock.hold(o.ID); got != tt.wantHold {
				t.Errorf("reservation %q, want %q", got, tt.wantHold)
			}
			if got := w.payments.standing(o.ID); got != tt.wantCharged {
				t.Errorf("money taken: %v, want %v", got, tt.wantCharged)
			}
			if w.cart.cleared != tt.wantCleared {
				t.Errorf("cart cleared: %v, want %v", w.cart.cleared, tt.wantCleared)
			}
			// Nothing is ever lost: money taken for an unplaced order is owed, and
			// only a placed order has its event.
			if o.Status != StatusPlaced && w.payments.standing(o.ID) && !o.refundDue && o.Status != StatusPending {
				t.Errorf("order %s failed with its charge standing and no refund due", o.ID)
			}
			if h := w.stock.hold(o.ID); o.Status == StatusFailed && (h == "reserved" || h == "committed") && !o.releaseDue {
				t.Errorf("order %s failed with its stock %s and no release due", o.ID, h)
			}
			if want := map[bool]int{true: 1, false: 0}[o.Status == StatusPlaced]; o.events != want {
				t.Errorf("%d order.placed events, want %d", o.events, want)
			}
		})
	}
}

// A process that dies after any step leaves a pending order; the sweeper then
// refunds what was charged, returns the stock and fails the order, and retries
// a refund payments refused until it is confirmed. A placed order is left alone.
func TestSaga_CrashAfterEachStep_SweeperSettlesIt(t *testing.T) {
	tests := []struct {
		after       string
		wantOrder   string
		wantHold    string
		wantCharged bool
	}{
		{after: "reserve", wantOrder: StatusFailed, wantHold: "released"},
		{after: "charge", wantOrder: StatusFailed, wantHold: "released"},
		{after: "commit", wantOrder: StatusFailed, wantHold: "released"},
		{after: "place", wantOrder: StatusPlaced, wantHold: "committed", wantCharged: true},
	}
	for _, tt := range tests {
		// What payments or inventory refuses at the first sweep, and the next sweep gets through.
		for _, refusedFirst := range []string{"nothing", "refund", "release"} {
			t.Run(fmt.Sprintf("after %s, %s refused first", tt.after, refusedFirst), func(t *testing.T) {
				w := newWorld(t)
				c := crash{after: tt.after}
				w.stock.crash, w.payments.crash, w.store.crash = c, c, c
				if _, err := w.checkout(); !errors.Is(err, errCrashed) {
					t.Fatalf("checkout answered %v; the crash did not happen", err)
				}
				switch refusedFirst {
				case "refund":
					w.payments.refundErr = errDown
				case "release":
					w.stock.releaseErr = errGRPCDown
				}
				ctx := context.Background()
				w.saga.sweep(ctx, -time.Second) // everything pending is stale
				o := w.store.only(t)
				if tt.wantOrder == StatusFailed && (o.Status != StatusFailed || o.FailureReason != reasonAbandoned) {
					t.Fatalf("after the sweep the order is %s/%q, want failed/abandoned", o.Status, o.FailureReason)
				}
				if refusedFirst != "nothing" {
					if o.Status != StatusPlaced && w.payments.standing(o.ID) && !o.refundDue {
						t.Fatalf("refund refused, but no refund is due on order %s", o.ID)
					}
					if h := w.stock.hold(o.ID); o.Status != StatusPlaced && (h == "reserved" || h == "committed") && !o.releaseDue {
						t.Fatalf("release refused, stock %s, but no release is due on order %s", h, o.ID)
					}
					w.payments.refundErr, w.stock.releaseErr = nil, nil
					w.saga.sweep(ctx, -time.Second)
					o = w.store.only(t)
				}
				if o.releaseDue {
					t.Errorf("order %s: release still due after payments and inventory answered", o.ID)
				}
				if o.Status != tt.wantOrder || o.refundDue {
					t.Errorf("order %s refund due %v, want %s and nothing owed", o.Status, o.refundDue, tt.wantOrder)
				}
				if got := w.stock.hold(o.ID); got != tt.wantHold {
					t.Errorf("reservation %q, want %q", got, tt.wantHold)
				}
				if got := w.payments.standing(o.ID); got != tt.wantCharged {
					t.Errorf("money taken: %v, want %v", got, tt.wantCharged)
				}
			})
		}
	}
}

// A charge that got no answer may still be on its way to payments when the saga
// asks what became of it. The saga voids the key rather than looking it up, so the
// late charge finds the key used and takes nothing: the failed order owes nothing,
// and stays owing nothing.
func TestSaga_ChargeLandingAfterTheLookup_FindsTheKeyVoided(t *testing.T) {
	w := newWorld(t)
	w.payments.chargeErr = errNoAnswer // the request left; no answer came back
	if _, err := w.checkout(); status(err) != http.StatusServiceUnavailable {
		t.Fatalf("checkout answered %v, want 503", err)
	}
	o := w.store.only(t)
	if o.Status != StatusFailed || o.refundDue {
		t.Fatalf("order %s, refund due %v; want failed owing nothing", o.Status, o.refundDue)
	}
	// The charge request that was still in flight arrives now.
	w.payments.chargeErr = nil
	if _, err := w.payments.Charge(context.Background(), paymentKey(o.ID), o.TotalCents, payments.Card{}); err == nil {
		t.Error("a charge arriving after the saga gave up on it went through")
	}
	if w.payments.standing(o.ID) {
		t.Errorf("money taken for failed order %s, with no refund due", o.ID)
	}
}
