package shipping

import (
	"errors"
	"net/http"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/ids"
)

type server struct{ store store }

func newServer(st store) *server { return &server{store: st} }

func (s *server) handleFind() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		orderID, ok := ids.UUID(r.URL.Query().Get("order_id"))
		if !ok {
			return httpx.Invalid("order_id", "must be an order id")
		}
		sh, err := s.store.byOrder(r.Context(), orderID)
		if errors.Is(err, errNoShipment) {
			return httpx.NotFound("shipment")
		}
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, sh)
		return nil
	})
}
