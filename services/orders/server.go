package orders

import (
	"errors"
	"net/http"
	"regexp"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/ids"
)

type server struct {
	store    store
	checkout *saga
	auth     auth.Guard
	nPlusOne *flags.Fault // ordersListNPlusOne
}

func newServer(st store, checkout *saga, guard auth.Guard, nPlusOne *flags.Fault) *server {
	return &server{store: st, checkout: checkout, auth: guard, nPlusOne: nPlusOne}
}

var idempotencyKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{8,100}$`)

func (s *server) handleCheckout() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		u, _ := auth.UserFrom(r.Context()) // the route's guard made sure there is one
		userID := u.ID
		key := r.Header.Get("Idempotency-Key")
		if key != "" && !idempotencyKeyPattern.MatchString(key) {
			return httpx.Invalid("Idempotency-Key", "must be 8 to 100 letters, digits or ._:-")
		}
		req, err := httpx.Decode[checkoutRequest](r)
		if err != nil {
			return err
		}
		o, err := s.checkout.checkout(r.Context(), userID, key, req)
		if err != nil {
			return err
		}
		status := http.StatusCreated
		if o.Status != StatusPlaced {
			status = http.StatusOK // a replay of a checkout that failed or is still running
		}
		httpx.WriteJSON(w, status, o)
		return nil
	})
}

func (s *server) handleList() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		u, _ := auth.UserFrom(r.Context()) // the route's guard made sure there is one
		userID := u.ID
		limit, err := httpx.QueryInt(r, "limit", 50, 1, 200)
		if err != nil {
			return err
		}
		list := s.store.list
		if _, on := s.nPlusOne.On(r.Context()); on {
			list = s.store.listOneByOne
		}
		orders, err := list(r.Context(), userID, limit)
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, map[string][]Order{"orders": orders})
		return nil
	})
}

func (s *server) handleGet() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		u, _ := auth.UserFrom(r.Context()) // the route's guard made sure there is one
		userID := u.ID
		id, ok := ids.UUID(r.PathValue("id"))
		if !ok {
			return httpx.Invalid("id", "must be an order id")
		}
		o, err := s.store.get(r.Context(), userID, id)
		if errors.Is(err, errNoOrder) {
			return httpx.NotFound("order") // also for another user's order: no hint it exists
		}
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, o)
		return nil
	})
}
