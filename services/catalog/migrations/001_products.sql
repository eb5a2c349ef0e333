CREATE TABLE products (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL,
    category    text NOT NULL,
    price_cents bigint NOT NULL CHECK (price_cents > 0),
    currency    text NOT NULL DEFAULT 'USD',
    image_url   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    search      tsvector GENERATED ALWAYS AS (to_tsvector('english', name || ' ' || description)) STORED
);
CREATE INDEX products_category_id ON products (category, id);
CREATE INDEX products_search ON products USING gin (search);
