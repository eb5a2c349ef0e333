package catalog

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelshop/shop/internal/pg"

	"github.com/otelshop/shop/internal/demodata"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Product is what the catalogue sells.
type Product struct {
	ID          string    `json:"id"`
	SKU         string    `json:"sku"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Category    string    `json:"category"`
	PriceCents  int64     `json:"price_cents"`
	Currency    string    `json:"currency"`
	ImageURL    string    `json:"image_url"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Details is the product page's long text; listings leave it out.
	Details string `json:"details,omitempty"`
	// Related lists similar products, when the page computed them.
	Related []string `json:"related,omitempty"`
}

// Page is one page of a product listing.
type Page struct {
	Products []Product `json:"products"`
	Page     int       `json:"page"`
	PageSize int       `json:"page_size"`
	Total    int       `json:"total"`
}

// Query selects products: by ids, or by category and text, one page at a time.
type Query struct {
	IDs      []string
	Category string
	Text     string
	Page     int
	PageSize int
	// ScanDetails searches the details too, which no index covers (the
	// catalogSlowSearch fault).
	ScanDetails bool
}

// Category is a category and how many products it holds.
type Category struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

var (
	errNoProduct = errors.New("no such product")
	errExists    = errors.New("product exists")
)

type store struct{ db *pgxpool.Pool }

const productColumns = `id, name, description, category, price_cents, currency, image_url, updated_at`

func scanProduct(row pgx.Row) (Product, error) {
	var p Product
	err := row.Scan(&p.ID, &p.Name, &p.Description, &p.Category, &p.PriceCents, &p.Currency, &p.ImageURL, &p.UpdatedAt)
	p.SKU = p.ID
	return p, err
}

// seed fills an empty catalogue with the demonstration products.
func (s store) seed(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM products`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count products: %w", err)
	}
	if n > 0 {
		return 0, s.seedDetails(ctx)
	}
	rows := [][]any{}
	for _, p := range demodata.Products() {
		rows = append(rows, []any{p.ID, p.Name, p.Description, p.Category, p.PriceCents, "USD", p.ImageURL, p.Details})
	}
	copied, err := s.db.CopyFrom(ctx, pgx.Identifier{"products"},
		[]string{"id", "name", "description", "category", "price_cents", "currency", "image_url", "details"},
		pgx.CopyFromRows(rows))
	if pg.IsUniqueViolation(err) {
		return 0, nil // another replica seeded first
	}
	if err != nil {
		return 0, fmt.Errorf("seed products: %w", err)
	}
	return int(copied), nil
}

// seedDetails gives demonstration products seeded before products had details
// (migration 002) their long text.
func (s store) seedDetails(ctx context.Context) error {
	var missing bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM products WHERE details = '')`).Scan(&missing); err != nil || !missing {
		return err
	}
	ids, texts := []string{}, []string{}
	for _, p := range demodata.Products() {
		ids, texts = append(ids, p.ID), append(texts, p.Details)
	}
	_, err := s.db.Exec(ctx, `UPDATE products p SET details = d.details
		FROM unnest($1::text[], $2::text[]) AS d(id, details) WHERE p.id = d.id AND p.details = ''`, ids, texts)
	if err != nil {
		return fmt.Errorf("seed product details: %w", err)
	}
	return nil
}

func (s store) get(ctx context.Context, id string) (Product, error) {
	var p Product
	err := s.db.QueryRow(ctx, `SELECT `+productColumns+`, details FROM products WHERE id = $1`, id).Scan(
		&p.ID, &p.Name, &p.Description, &p.Category, &p.PriceCents, &p.Currency, &p.ImageURL, &p.UpdatedAt, &p.Details)
	p.SKU = p.ID
	if errors.Is(err, pgx.ErrNoRows) {
		return Product{}, errNoProduct
	}
	if err != nil {
		return Product{}, fmt.Errorf("select product: %w", err)
	}
	return p, nil
}

func (s store) list(ctx context.Context, q Query) (Page, error) {
	where, args := `WHERE ($1 = '' OR category = $1) AND ($2 = '' OR search @@ plainto_tsquery('english', $2))`, []any{q.Category, q.Text}
	if q.ScanDetails && q.Text != "" {
		where = `WHERE ($1 = '' OR category = $1) AND
			to_tsvector('english', name || ' ' || description || ' ' || details) @@ plainto_tsquery('english', $2)`
	}
	if len(q.IDs) > 0 {
		where, args = `WHERE id = ANY($1)`, []any{q.IDs}
	}
	page := Page{Products: []Product{}, Page: q.Page, PageSize: q.PageSize}
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM products `+where, args...).Scan(&page.Total); err != nil {
		return Page{}, fmt.Errorf("count products: %w", err)
	}
	args = append(args, q.PageSize, (q.Page-1)*q.PageSize)
	n := len(args)
	rows, err := s.db.Query(ctx, fmt.Sprintf(`SELECT %s FROM products %s ORDER BY id LIMIT $%d OFFSET $%d`,
		productColumns, where, n-1, n), args...)
	if err != nil {
		return Page{}, fmt.Errorf("list products: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return Page{}, fmt.Errorf("scan product: %w", err)
		}
		page.Products = append(page.Products, p)
	}
	return page, rows.Err()
}

func (s store) categories(ctx context.Context) ([]Category, error) {
	rows, err := s.db.Query(ctx, `SELECT category, count(*) FROM products GROUP BY category ORDER BY category`)
	if err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	cats, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Category, error) {
		var c Category
		return c, row.Scan(&c.Name, &c.Count)
	})
	if err != nil {
		return nil, fmt.Errorf("scan categories: %w", err)
	}
	return cats, nil
}

func (s store) create(ctx context.Context, p Product) (Product, error) {
	created, err := scanProduct(s.db.QueryRow(ctx, `INSERT INTO products (id, name, description, category, price_cents, currency, image_url)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+productColumns,
		p.ID, p.Name, p.Description, p.Category, p.PriceCents, p.Currency, p.ImageURL))
	if pg.IsUniqueViolation(err) {
		return Product{}, errExists
	}
	if err != nil {
		return Product{}, fmt.Errorf("insert product: %w", err)
	}
	return created, nil
}

func (s store) update(ctx context.Context, p Product) (Product, error) {
	updated, err := scanProduct(s.db.QueryRow(ctx, `UPDATE products SET name = $2, description = $3, category = $4,
		price_cents = $5, currency = $6, image_url = $7, updated_at = now() WHERE id = $1 RETURNING `+productColumns,
		p.ID, p.Name, p.Description, p.Category, p.PriceCents, p.Currency, p.ImageURL))
	if errors.Is(err, pgx.ErrNoRows) {
		return Product{}, errNoProduct
	}
	if err != nil {
		return Product{}, fmt.Errorf("update product: %w", err)
	}
	return updated, nil
}
