-- A failed order whose charge may stand unrefunded (the refund, or the lookup of
-- whether a charge happened, failed): the sweeper retries until payments confirms.
ALTER TABLE orders ADD COLUMN refund_due boolean NOT NULL DEFAULT false;
CREATE INDEX orders_refund_due ON orders (updated_at) WHERE refund_due;
