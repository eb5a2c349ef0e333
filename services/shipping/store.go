package shipping

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

// Shipment is a parcel on its way.
type Shipment struct {
	ID         string    `json:"id"`
	OrderID    string    `json:"order_id"`
	UserID     string    `json:"-"`
	Status     string    `json:"status"`
	Carrier    string    `json:"carrier"`
	QuoteCents int64     `json:"quote_cents"`
	Country    string    `json:"country"`
	Units      int       `json:"units"`
	CreatedAt  time.Time `json:"created_at"`
}

var errNoShipment = errors.New("no shipment for this order")

type store struct{ db *pgxpool.Pool }

// create stores an order's shipment unless it has one, and says whether it did:
// one shipment per order, however often its event arrives.
func (s store) create(ctx context.Context, sh Shipment, messageID string) (bool, error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO shipments (id, order_id, user_id, message_id, status, carrier, quote_cents, country, units)
		VALUES ($1, $2, $3, $4, 'created', $5, $6, $7, $8) ON CONFLICT (order_id) DO NOTHING`,
		sh.ID, sh.OrderID, sh.UserID, messageID, sh.Carrier, sh.QuoteCents, sh.Country, sh.Units)
	if err != nil {
		return false, fmt.Errorf("store shipment: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// byOrder returns the order's shipment when it is userID's.
func (s store) byOrder(ctx context.Context, orderID, userID string) (Shipment, error) {
	var sh Shipment
	err := s.db.QueryRow(ctx, `SELECT id, order_id, status, carrier, quote_cents, country, units, created_at
		FROM shipments WHERE order_id = $1 AND user_id = $2`, orderID, userID).
		Scan(&sh.ID, &sh.OrderID, &sh.Status, &sh.Carrier, &sh.QuoteCents, &sh.Country, &sh.Units, &sh.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Shipment{}, errNoShipment
	}
	if err != nil {
		return Shipment{}, fmt.Errorf("select shipment: %w", err)
	}
	return sh, nil
}
