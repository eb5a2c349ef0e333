package shipping

import (
	"errors"
	"net/http"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/ids"
)

type server struct {
	store store
	auth  auth.Guard
}

func newServer(st store, guard auth.Guard) *server { return &server{store: st, auth: guard} }

func (s *server) handleFind() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		orderID, ok := ids.UUID(r.URL.Query().Get("order_id"))
		if !ok {
			return httpx.Invalid("order_id", "must be an order id")
		}
		u, _ := auth.UserFrom(r.Context())
		sh, err := s.store.byOrder(r.Context(), orderID, u.ID)
		if errors.Is(err, errNoShipment) {
			return httpx.NotFound("shipment") // also another user's: no hint it exists
		}
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, sh)
		return nil
	})
}
