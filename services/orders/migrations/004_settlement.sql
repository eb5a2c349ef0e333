-- A failed order whose stock inventory has not confirmed returned: its release (or
-- restock) got no answer, or the process died after the sweeper claimed the order.
-- The sweeper retries until inventory confirms, as it does for refund_due.
ALTER TABLE orders ADD COLUMN release_due boolean NOT NULL DEFAULT false;
-- The lease of the one replica settling a failed order (refund, release) right now;
-- a replica that dies mid-way leaves it to expire and another takes the order over.
ALTER TABLE orders ADD COLUMN settling_until timestamptz;
CREATE INDEX orders_settle_due ON orders (updated_at) WHERE refund_due OR release_due;
