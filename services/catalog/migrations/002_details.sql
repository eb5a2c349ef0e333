-- The product page's long text. The full-text index (products_search) covers the
-- name and the short description only: searching the details as well is what
-- the catalogSlowSearch fault does, without an index, to show what that costs.
ALTER TABLE products ADD COLUMN details text NOT NULL DEFAULT '';
