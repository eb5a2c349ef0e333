package cart

import (
	"errors"
	"fmt"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/ids"
	"github.com/otelshop/shop/services/catalog"
	"github.com/otelshop/shop/telemetry"
)

type server struct {
	store     store
	products  *catalog.Client
	auth      auth.Guard
	additions metric.Int64Counter
	units     metric.Int64Counter
	history   *responseHistory
}

func newServer(st store, products *catalog.Client, guard auth.Guard, tel *telemetry.Telemetry, leak *flags.Fault) *server {
	meter := tel.Meter(scope)
	s := &server{store: st, products: products, auth: guard, history: &responseHistory{fault: leak}}
	s.additions, _ = meter.Int64Counter("shop.cart.additions", metric.WithDescription("Products added to carts."))
	s.units, _ = meter.Int64Counter("shop.cart.added_units", metric.WithDescription("Units added to carts."))
	return s
}

type addRequest struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

func (r *addRequest) Validate() error {
	if !ids.Product(r.ProductID) {
		return errProductID
	}
	return validateQuantity(r.Quantity)
}

var errProductID = httpx.Invalid("product_id", "must be a product id such as SKU-00042")

type setRequest struct {
	Quantity int `json:"quantity"`
}

func (r *setRequest) Validate() error { return validateQuantity(r.Quantity) }

func validateQuantity(q int) error {
	if q < 1 || q > MaxQuantity {
		return httpx.Invalid("quantity", fmt.Sprintf("must be from 1 to %d", MaxQuantity))
	}
	return nil
}

func storeError(err error) error {
	switch {
	case errors.Is(err, errTooMany):
		return httpx.Invalid("quantity", fmt.Sprintf("a cart holds at most %d of one product", MaxQuantity))
	case errors.Is(err, errCartFull):
		return httpx.Conflict("cart_full", fmt.Sprintf("a cart holds at most %d products", MaxItems))
	case errors.Is(err, errNotInCart):
		return httpx.NotFound("cart item")
	}
	return err
}

// cartHandler runs fn for the request's verified user and answers with the cart
// afterwards.
func (s *server) cartHandler(fn func(r *http.Request, userID string) error) http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		u, _ := auth.UserFrom(r.Context()) // the route's guard made sure there is one
		userID := u.ID
		if err := fn(r, userID); err != nil {
			return storeError(err)
		}
		c, err := s.store.get(r.Context(), userID)
		if err != nil {
			return err
		}
		trace.SpanFromContext(r.Context()).SetAttributes(attribute.Int("shop.cart.items", len(c.Items)))
		s.history.keep(r.Context(), c)
		httpx.WriteJSON(w, http.StatusOK, c)
		return nil
	})
}

func (s *server) handleGet() http.Handler {
	return s.cartHandler(func(*http.Request, string) error { return nil })
}

func (s *server) handleAdd() http.Handler {
	return s.cartHandler(func(r *http.Request, userID string) error {
		req, err := httpx.Decode[addRequest](r)
		if err != nil {
			return err
		}
		ctx := r.Context()
		if _, err := s.products.Product(ctx, req.ProductID); err != nil {
			var e *httpx.Error
			if errors.As(err, &e) && e.Status == http.StatusNotFound {
				return httpx.Invalid("product_id", "no such product")
			}
			return fmt.Errorf("look up product: %w", err)
		}
		if err := s.store.add(ctx, userID, req.ProductID, req.Quantity); err != nil {
			return err
		}
		s.additions.Add(ctx, 1)
		s.units.Add(ctx, int64(req.Quantity))
		return nil
	})
}

func (s *server) handleSet() http.Handler {
	return s.cartHandler(func(r *http.Request, userID string) error {
		productID := r.PathValue("product_id")
		if !ids.Product(productID) {
			return errProductID
		}
		req, err := httpx.Decode[setRequest](r)
		if err != nil {
			return err
		}
		return s.store.set(r.Context(), userID, productID, req.Quantity)
	})
}

func (s *server) handleRemove() http.Handler {
	return s.cartHandler(func(r *http.Request, userID string) error {
		productID := r.PathValue("product_id")
		if !ids.Product(productID) {
			return errProductID
		}
		return s.store.remove(r.Context(), userID, productID)
	})
}

func (s *server) handleClear() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		u, _ := auth.UserFrom(r.Context())
		if err := s.store.clear(r.Context(), u.ID); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
