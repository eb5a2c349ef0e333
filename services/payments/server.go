package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/ids"
	"github.com/otelshop/shop/telemetry"
)

type server struct {
	store    store
	provider *provider
	auth     auth.Guard
	tel      *telemetry.Telemetry
	tracer   trace.Tracer
	charges  metric.Int64Counter
	refunds  metric.Int64Counter
}

func newServer(st store, p *provider, guard auth.Guard, tel *telemetry.Telemetry) *server {
	meter := tel.Meter(scope)
	s := &server{store: st, provider: p, auth: guard, tel: tel, tracer: tel.Tracer(scope)}
	s.charges, _ = meter.Int64Counter("shop.payments.charges",
		metric.WithDescription("Charges decided, by outcome (succeeded, declined, error) and decline reason."))
	s.refunds, _ = meter.Int64Counter("shop.payments.refunds", metric.WithDescription("Charges refunded."))
	return s
}

// Card is what a shopper pays with. It is never stored, logged or put on a span.
type Card struct {
	Number string `json:"number"`
	Expiry string `json:"expiry"` // MM/YY
	CVC    string `json:"cvc"`
}

type chargeRequest struct {
	IdempotencyKey string `json:"idempotency_key"`
	AmountCents    int64  `json:"amount_cents"`
	Currency       string `json:"currency"`
	Card           Card   `json:"card"`
}

var (
	keyPattern    = regexp.MustCompile(`^[A-Za-z0-9_.:-]{8,100}$`)
	digitsPattern = regexp.MustCompile(`^[0-9]{12,19}$`)
	expiryPattern = regexp.MustCompile(`^(0[1-9]|1[0-2])/([0-9]{2})$`)
	cvcPattern    = regexp.MustCompile(`^[0-9]{3,4}$`)
)

func (r *chargeRequest) Validate() error {
	switch {
	case !keyPattern.MatchString(r.IdempotencyKey):
		return httpx.Invalid("idempotency_key", "must be 8 to 100 letters, digits or ._:-")
	case r.AmountCents <= 0 || r.AmountCents > 100_000_000:
		return httpx.Invalid("amount_cents", "must be a positive whole number of cents up to 1,000,000.00")
	case r.Currency != "USD":
		return httpx.Invalid("currency", "only USD is accepted")
	}
	return ValidateCard(r.Card, time.Now())
}

// ValidateCard checks a card's form: a Luhn-valid number of a brand the shop
// takes, of that brand's length, an expiry not past, a CVC of the brand's length.
func ValidateCard(c Card, now time.Time) error {
	b := brand(c.Number)
	if !digitsPattern.MatchString(c.Number) || !luhn(c.Number) || b.name == "" || !slices.Contains(b.lengths, len(c.Number)) {
		return httpx.Invalid("card.number", "must be a valid Visa, Mastercard, American Express or Discover card number")
	}
	m := expiryPattern.FindStringSubmatch(c.Expiry)
	if m == nil {
		return httpx.Invalid("card.expiry", "must be MM/YY")
	}
	month, _ := strconv.Atoi(m[1])
	year, _ := strconv.Atoi(m[2])
	// A card is good through the last day of its expiry month.
	if !time.Date(2000+year, time.Month(month)+1, 1, 0, 0, 0, 0, time.UTC).After(now) {
		return httpx.Invalid("card.expiry", "the card has expired")
	}
	if !cvcPattern.MatchString(c.CVC) || len(c.CVC) != b.cvc {
		return httpx.Invalid("card.cvc", fmt.Sprintf("must be %d digits", b.cvc))
	}
	return nil
}

func luhn(number string) bool {
	sum := 0
	double := false
	for i := len(number) - 1; i >= 0; i-- {
		d := int(number[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// cardBrand is a card network the shop takes: its numbers' lengths and its CVC's.
type cardBrand struct {
	name    string
	lengths []int
	cvc     int
}

// brand names the network of a card number by its issuer prefix (IIN ranges);
// the zero brand for a number of no network the shop takes (0000…, 9999…).
func brand(number string) cardBrand {
	prefix := func(n int) int {
		if len(number) < n {
			return -1
		}
		v, _ := strconv.Atoi(number[:n])
		return v
	}
	switch p1, p2, p3, p4, p6 := prefix(1), prefix(2), prefix(3), prefix(4), prefix(6); {
	case p1 == 4:
		return cardBrand{"visa", []int{13, 16, 19}, 3}
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return cardBrand{"mastercard", []int{16}, 3}
	case p2 == 34, p2 == 37:
		return cardBrand{"amex", []int{15}, 4}
	case p4 == 6011, p2 == 65, p3 >= 644 && p3 <= 649, p6 >= 622126 && p6 <= 622925:
		return cardBrand{"discover", []int{16, 19}, 3}
	}
	return cardBrand{}
}

func (s *server) handleCharge() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		req, err := httpx.Decode[chargeRequest](r)
		if err != nil {
			return err
		}
		ctx := r.Context()
		span := trace.SpanFromContext(ctx)
		span.SetAttributes(attribute.Int64("shop.payment.amount_cents", req.AmountCents))
		// A replay answers with the stored outcome and never reaches the processor.
		if c, err := s.store.byKey(ctx, req.IdempotencyKey); err == nil {
			return s.answerCharge(w, r, req, c, http.StatusOK)
		} else if !errors.Is(err, errNoCharge) {
			return err
		}
		reason, err := s.authorize(ctx, req.Card.Number)
		if errors.Is(err, errProviderDown) {
			s.charges.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "error"), attribute.String("reason", "processor_unavailable")))
			return &httpx.Error{Status: http.StatusBadGateway, Code: "processor_unavailable", Message: "the payment processor did not answer; retry with the same idempotency key"}
		}
		if err != nil {
			return err
		}
		id, _ := uuid.NewV7()
		c := Charge{ID: id.String(), IdempotencyKey: req.IdempotencyKey, AmountCents: req.AmountCents, Currency: req.Currency,
			Status: ChargeSucceeded, DeclineReason: reason, CardBrand: brand(req.Card.Number).name, CardLast4: req.Card.Number[len(req.Card.Number)-4:]}
		if reason != "" {
			c.Status = ChargeDeclined
		}
		stored, created, err := s.store.record(ctx, c)
		if err != nil {
			return err
		}
		if created {
			s.charges.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", string(c.Status)), attribute.String("reason", reasonOrNone(c.DeclineReason))))
			return s.answerCharge(w, r, req, stored, http.StatusCreated)
		}
		return s.answerCharge(w, r, req, stored, http.StatusOK)
	})
}

func (s *server) authorize(ctx context.Context, number string) (string, error) {
	ctx, span := s.tracer.Start(ctx, "processor authorize", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("shop.payment.card_brand", brand(number).name)))
	defer span.End()
	reason, err := s.provider.authorize(ctx, number)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.SetAttributes(attribute.String("shop.payment.decline_reason", reasonOrNone(reason)))
	return reason, err
}

func reasonOrNone(r string) string {
	if r == "" {
		return "none"
	}
	return r
}

// errVoided answers a charge whose key was voided: its caller had given up on it.
var errVoided = httpx.Conflict("charge_voided", "this idempotency key was voided: nothing is charged with it")

// answerCharge answers a charge, refusing a key reused for a different amount.
func (s *server) answerCharge(w http.ResponseWriter, r *http.Request, req chargeRequest, c Charge, status int) error {
	if c.Status == ChargeVoided {
		return errVoided
	}
	if c.AmountCents != req.AmountCents || c.Currency != req.Currency {
		return httpx.Conflict("idempotency_key_reused", "this idempotency key was used for a different charge")
	}
	trace.SpanFromContext(r.Context()).SetAttributes(
		attribute.String("shop.payment.status", string(c.Status)),
		attribute.Bool("shop.payment.replayed", status == http.StatusOK))
	httpx.WriteJSON(w, status, c)
	return nil
}

// handleFindCharge finds the charge made with an idempotency key, so a caller whose
// charge call ended without an answer can learn the outcome and refund it.
func (s *server) handleFindCharge() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		key := r.URL.Query().Get("idempotency_key")
		if !keyPattern.MatchString(key) {
			return httpx.Invalid("idempotency_key", "must be 8 to 100 letters, digits or ._:-")
		}
		c, err := s.store.byKey(r.Context(), key)
		return writeCharge(w, c, err)
	})
}

type voidRequest struct {
	IdempotencyKey string `json:"idempotency_key"`
}

func (r *voidRequest) Validate() error {
	if !keyPattern.MatchString(r.IdempotencyKey) {
		return httpx.Invalid("idempotency_key", "must be 8 to 100 letters, digits or ._:-")
	}
	return nil
}

// handleVoid settles what a key's charge is, for a caller whose charge call got no
// answer: the charge made with it, or a voided one that keeps any charge still in
// flight with it from happening (store.void).
func (s *server) handleVoid() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		req, err := httpx.Decode[voidRequest](r)
		if err != nil {
			return err
		}
		id, _ := uuid.NewV7()
		c, err := s.store.void(r.Context(), id.String(), req.IdempotencyKey)
		if err != nil {
			return err
		}
		trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("shop.payment.status", string(c.Status)))
		httpx.WriteJSON(w, http.StatusOK, c)
		return nil
	})
}

var errChargeID = httpx.Invalid("id", "must be a charge id")

func (s *server) handleGetCharge() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id, ok := ids.UUID(r.PathValue("id"))
		if !ok {
			return errChargeID
		}
		c, err := s.store.byID(r.Context(), id)
		return writeCharge(w, c, err)
	})
}

// writeCharge answers with the charge found, or 404 when there is none.
func writeCharge(w http.ResponseWriter, c Charge, err error) error {
	if errors.Is(err, errNoCharge) {
		return httpx.NotFound("charge")
	}
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, c)
	return nil
}

func (s *server) handleRefund() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id, ok := ids.UUID(r.PathValue("id"))
		if !ok {
			return errChargeID
		}
		ctx := r.Context()
		c, err := s.store.byID(ctx, id)
		if errors.Is(err, errNoCharge) {
			return httpx.NotFound("charge")
		}
		if err != nil {
			return err
		}
		if c.Status != ChargeSucceeded {
			return httpx.Conflict("not_refundable", "only a succeeded charge can be refunded")
		}
		refundID, _ := uuid.NewV7()
		ref, created, err := s.store.refund(ctx, c.ID, refundID.String(), c.AmountCents)
		if err != nil {
			return err
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
			s.refunds.Add(ctx, 1)
			s.tel.Logger.InfoContext(ctx, "charge refunded", "charge_id", c.ID, "amount_cents", c.AmountCents)
		}
		httpx.WriteJSON(w, status, ref)
		return nil
	})
}

func (p *ProviderSettings) Validate() error {
	switch {
	case p.LatencyMS < 0 || p.LatencyMS > 10_000:
		return httpx.Invalid("latency_ms", "must be from 0 to 10000")
	case p.FailureRate < 0 || p.FailureRate > 1:
		return httpx.Invalid("failure_rate", "must be from 0 to 1")
	case p.ErrorRate < 0 || p.ErrorRate > 1:
		return httpx.Invalid("error_rate", "must be from 0 to 1")
	}
	return nil
}

func (s *server) handleGetProvider() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, s.provider.get())
	})
}

func (s *server) handleSetProvider() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		settings, err := httpx.Decode[ProviderSettings](r)
		if err != nil {
			return err
		}
		s.provider.set(settings)
		s.tel.Logger.InfoContext(r.Context(), "payment processor simulation changed",
			"latency_ms", settings.LatencyMS, "failure_rate", settings.FailureRate, "error_rate", settings.ErrorRate)
		httpx.WriteJSON(w, http.StatusOK, settings)
		return nil
	})
}
