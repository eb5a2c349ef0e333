package payments

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Charge is a payment attempt and its outcome. Only the card's brand and last four
// digits are kept.
type Charge struct {
	ID             string       `json:"id"`
	IdempotencyKey string       `json:"idempotency_key"`
	AmountCents    int64        `json:"amount_cents"`
	Currency       string       `json:"currency"`
	Status         ChargeStatus `json:"status"`
	DeclineReason  string       `json:"decline_reason,omitempty"`
	CardBrand      string       `json:"card_brand"`
	CardLast4      string       `json:"card_last4"`
	CreatedAt      time.Time    `json:"created_at"`
	Refunded       bool         `json:"refunded"`
}

// Refund is the return of a whole charge.
type Refund struct {
	ID          string    `json:"id"`
	ChargeID    string    `json:"charge_id"`
	AmountCents int64     `json:"amount_cents"`
	CreatedAt   time.Time `json:"created_at"`
}

// ChargeStatus is how a charge was decided.
type ChargeStatus string

// The outcomes of a charge.
const (
	ChargeSucceeded ChargeStatus = "succeeded"
	ChargeDeclined  ChargeStatus = "declined"
	// ChargeVoided: no charge was made with the key, and none will be (see void).
	ChargeVoided ChargeStatus = "voided"
)

var errNoCharge = errors.New("no such charge")

type store struct{ db *pgxpool.Pool }

const chargeColumns = `c.id, c.idempotency_key, c.amount_cents, c.currency, c.status, c.decline_reason,
	c.card_brand, c.card_last4, c.created_at, EXISTS (SELECT 1 FROM refunds r WHERE r.charge_id = c.id)`

func scanCharge(row pgx.Row) (Charge, error) {
	var c Charge
	err := row.Scan(&c.ID, &c.IdempotencyKey, &c.AmountCents, &c.Currency, &c.Status, &c.DeclineReason,
		&c.CardBrand, &c.CardLast4, &c.CreatedAt, &c.Refunded)
	if errors.Is(err, pgx.ErrNoRows) {
		return Charge{}, errNoCharge
	}
	return c, err
}

func (s store) byKey(ctx context.Context, key string) (Charge, error) {
	return scanCharge(s.db.QueryRow(ctx, `SELECT `+chargeColumns+` FROM charges c WHERE c.idempotency_key = $1`, key))
}

func (s store) byID(ctx context.Context, id string) (Charge, error) {
	return scanCharge(s.db.QueryRow(ctx, `SELECT `+chargeColumns+` FROM charges c WHERE c.id = $1`, id))
}

// record stores a charge unless one with its idempotency key exists, and returns the
// stored one: the first outcome for a key is the only outcome.
func (s store) record(ctx context.Context, c Charge) (Charge, bool, error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO charges (id, idempotency_key, amount_cents, currency, status, decline_reason, card_brand, card_last4)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (idempotency_key) DO NOTHING`,
		c.ID, c.IdempotencyKey, c.AmountCents, c.Currency, c.Status, c.DeclineReason, c.CardBrand, c.CardLast4)
	if err != nil {
		return Charge{}, false, fmt.Errorf("insert charge: %w", err)
	}
	stored, err := s.byKey(ctx, c.IdempotencyKey)
	if err != nil {
		return Charge{}, false, fmt.Errorf("read charge: %w", err)
	}
	return stored, tag.RowsAffected() == 1, nil
}

// void makes sure nothing is ever charged with key unless something already was,
// and returns the key's one charge: the one made, or a voided row that takes the
// key, so that a charge still in flight with it (its caller gave up waiting) finds
// the key used and charges nothing. A caller that must know whether money was taken
// asks this, never "is there a charge?", whose "no" a charge landing a moment later
// would make false.
func (s store) void(ctx context.Context, id, key string) (Charge, error) {
	if _, err := s.db.Exec(ctx, `INSERT INTO charges (id, idempotency_key, amount_cents, currency, status, card_brand, card_last4)
		VALUES ($1, $2, 0, 'USD', 'voided', '', '') ON CONFLICT (idempotency_key) DO NOTHING`, id, key); err != nil {
		return Charge{}, fmt.Errorf("void charge key: %w", err)
	}
	return s.byKey(ctx, key)
}

// refund returns the charge's one refund, making it when there is none yet.
func (s store) refund(ctx context.Context, chargeID, refundID string, amount int64) (Refund, bool, error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO refunds (id, charge_id, amount_cents) VALUES ($1, $2, $3) ON CONFLICT (charge_id) DO NOTHING`,
		refundID, chargeID, amount)
	if err != nil {
		return Refund{}, false, fmt.Errorf("insert refund: %w", err)
	}
	var r Refund
	err = s.db.QueryRow(ctx, `SELECT id, charge_id, amount_cents, created_at FROM refunds WHERE charge_id = $1`, chargeID).
		Scan(&r.ID, &r.ChargeID, &r.AmountCents, &r.CreatedAt)
	if err != nil {
		return Refund{}, false, fmt.Errorf("read refund: %w", err)
	}
	return r, tag.RowsAffected() == 1, nil
}
