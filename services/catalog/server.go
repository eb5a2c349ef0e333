package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/ids"
	"github.com/otelshop/shop/telemetry"
)

type server struct {
	store    store
	cache    *cache
	auth     auth.Guard
	tel      *telemetry.Telemetry
	tracer   trace.Tracer
	faults   faultSet
	trending *trending
}

func newServer(st store, c *cache, guard auth.Guard, tel *telemetry.Telemetry, faults faultSet) *server {
	return &server{store: st, cache: c, auth: guard, tel: tel, tracer: tel.Tracer(scope), faults: faults,
		trending: &trending{views: map[string]int{}, fault: faults.trendingLock, tracer: tel.Tracer(scope)}}
}

// MaxIDsPerQuery bounds the ids one listing may ask for.
const MaxIDsPerQuery = 100

func parseQuery(r *http.Request) (Query, error) {
	var q Query
	var err error
	if q.Page, err = httpx.QueryInt(r, "page", 1, 1, 10_000); err != nil {
		return q, err
	}
	if q.PageSize, err = httpx.QueryInt(r, "page_size", 20, 1, 100); err != nil {
		return q, err
	}
	v := r.URL.Query()
	q.Category = v.Get("category")
	if q.Category != "" && !ids.Category(q.Category) {
		return q, httpx.Invalid("category", "must be a category name such as books")
	}
	if q.Text, err = httpx.QueryText(r, "q", 100); err != nil {
		return q, err
	}
	q.Text = strings.TrimSpace(q.Text)
	if list := v.Get("ids"); list != "" {
		q.IDs = strings.Split(list, ",")
		if len(q.IDs) > MaxIDsPerQuery {
			return q, httpx.Invalid("ids", fmt.Sprintf("at most %d ids", MaxIDsPerQuery))
		}
		for _, id := range q.IDs {
			if !ids.Product(id) {
				return q, httpx.Invalid("ids", "must be product ids separated by commas")
			}
		}
		q.Page, q.PageSize = 1, MaxIDsPerQuery
	}
	return q, nil
}

var errProductID = httpx.Invalid("id", "must be a product id such as SKU-00042")

func (s *server) handleList() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r)
		if err != nil {
			return err
		}
		_, q.ScanDetails = s.faults.slowSearch.On(r.Context())
		key := s.cache.listKey(url.Values{
			"c": {q.Category}, "q": {q.Text}, "ids": {strings.Join(q.IDs, ",")},
			"p": {fmt.Sprint(q.Page)}, "n": {fmt.Sprint(q.PageSize)},
		}.Encode())
		page, err := cachedJSON(r.Context(), s.cache, key, listTTL, func(ctx context.Context) (Page, error) {
			return s.store.list(ctx, q)
		})
		if err != nil {
			return err
		}
		httpx.WriteEncodedJSON(w, http.StatusOK, page)
		return nil
	})
}

func (s *server) handleGet() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if !ids.Product(id) {
			return errProductID
		}
		ctx := r.Context()
		trace.SpanFromContext(ctx).SetAttributes(attribute.String("shop.product.id", id))
		encoded, err := cachedJSON(ctx, s.cache, s.cache.productKey(id), productTTL, func(ctx context.Context) (Product, error) {
			return s.store.get(ctx, id)
		})
		if errors.Is(err, errNoProduct) {
			return httpx.NotFound("product")
		}
		if err != nil {
			return err
		}
		// The cached bytes are the answer unless a fault changes it; only then
		// is the product decoded.
		var p *Product
		decode := func() error {
			if p != nil {
				return nil
			}
			p = new(Product)
			return json.Unmarshal(encoded, p)
		}
		if _, on := s.faults.productErrors.Eval(ctx, flags.Subject{ProductID: id}); on {
			if err := decode(); err != nil {
				return err
			}
			promoted, err := applyPromotion(*p, malformedPromotion)
			if err != nil {
				return err
			}
			*p = promoted
		}
		if v, on := s.faults.relatedHog.On(ctx); on {
			if err := decode(); err != nil {
				return err
			}
			p.Related = relatedProducts(ctx, s.tracer, *p, v.Amount)
		}
		s.trending.record(ctx, id)
		if p == nil {
			httpx.WriteEncodedJSON(w, http.StatusOK, encoded)
		} else {
			httpx.WriteJSON(w, http.StatusOK, p)
		}
		return nil
	})
}

func (s *server) handleCategories() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		// The whole answer is cached (under a key of its own: the list of
		// categories alone was cached as "categories" before).
		body, err := cachedJSON(r.Context(), s.cache, s.cache.listKey("categories-response"), listTTL,
			func(ctx context.Context) (map[string][]Category, error) {
				cats, err := s.store.categories(ctx)
				return map[string][]Category{"categories": cats}, err
			})
		if err != nil {
			return err
		}
		httpx.WriteEncodedJSON(w, http.StatusOK, body)
		return nil
	})
}

type productRequest struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Category    string `json:"category"`
	PriceCents  int64  `json:"price_cents"`
	Currency    string `json:"currency"`
	ImageURL    string `json:"image_url"`
}

func (p *productRequest) Validate() error {
	switch {
	case p.ID != "" && !ids.Product(p.ID):
		return httpx.Invalid("id", "must be 1 to 40 letters, digits or dashes")
	case utf8.RuneCountInString(p.Name) < 1 || utf8.RuneCountInString(p.Name) > 200:
		return httpx.Invalid("name", "must be 1 to 200 characters")
	case utf8.RuneCountInString(p.Description) > 2000:
		return httpx.Invalid("description", "must be at most 2000 characters")
	case !ids.Category(p.Category):
		return httpx.Invalid("category", "must be a lower-case category name")
	case p.PriceCents <= 0 || p.PriceCents > 100_000_000:
		return httpx.Invalid("price_cents", "must be a positive whole number of cents")
	}
	if p.Currency == "" {
		p.Currency = "USD"
	}
	if p.Currency != "USD" {
		return httpx.Invalid("currency", "only USD is sold")
	}
	if u, err := url.Parse(p.ImageURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return httpx.Invalid("image_url", "must be an http or https URL")
	}
	return nil
}

func (p productRequest) product() Product {
	return Product{ID: p.ID, Name: p.Name, Description: p.Description, Category: p.Category,
		PriceCents: p.PriceCents, Currency: p.Currency, ImageURL: p.ImageURL}
}

func (s *server) handleCreate() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		req, err := httpx.Decode[productRequest](r)
		if err != nil {
			return err
		}
		if req.ID == "" {
			return httpx.Invalid("id", "is required")
		}
		p, err := s.store.create(r.Context(), req.product())
		if errors.Is(err, errExists) {
			return httpx.Conflict("product_exists", "a product with this id exists")
		}
		if err != nil {
			return err
		}
		s.invalidate(r.Context(), p.ID)
		httpx.WriteJSON(w, http.StatusCreated, p)
		return nil
	})
}

func (s *server) handleUpdate() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if !ids.Product(id) {
			return errProductID
		}
		req, err := httpx.Decode[productRequest](r)
		if err != nil {
			return err
		}
		if req.ID != "" && req.ID != id {
			return httpx.Invalid("id", "must match the id in the path")
		}
		req.ID = id
		p, err := s.store.update(r.Context(), req.product())
		if errors.Is(err, errNoProduct) {
			return httpx.NotFound("product")
		}
		if err != nil {
			return err
		}
		s.invalidate(r.Context(), id)
		httpx.WriteJSON(w, http.StatusOK, p)
		return nil
	})
}

// invalidate is best effort: the change is committed, and the TTLs bound how long a
// failed invalidation can serve the old entry.
func (s *server) invalidate(ctx context.Context, id string) {
	if err := s.cache.invalidate(ctx, id); err != nil {
		s.tel.Logger.WarnContext(ctx, "catalog cache invalidation failed; entries expire by TTL", "error", err)
	}
}
