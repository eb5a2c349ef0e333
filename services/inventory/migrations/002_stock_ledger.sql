-- Every change to the stock on hand that is neither a hold nor its release: the seed
-- of a product, an operator's SetStock (the difference it made), and, once, the
-- opening balance of what existed before this ledger (what was on hand, held or
-- committed then). What was ever stocked is the sum of a product's deltas, so
--   stocked - available = units held + units committed
-- for every product at every moment; `shop audit` checks it.
CREATE TABLE stock_adjustments (
    id         bigserial PRIMARY KEY,
    product_id text NOT NULL,
    delta      integer NOT NULL,
    reason     text NOT NULL CHECK (reason IN ('opening', 'seed', 'set')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_adjustments_product ON stock_adjustments (product_id);

INSERT INTO stock_adjustments (product_id, delta, reason)
SELECT s.product_id, s.available + coalesce(h.units, 0), 'opening'
FROM stock s
LEFT JOIN (
    SELECT ri.product_id, sum(ri.quantity)::integer AS units
    FROM reservation_items ri JOIN reservations r USING (order_id)
    WHERE r.status IN ('reserved', 'committed')
    GROUP BY ri.product_id
) h USING (product_id);
