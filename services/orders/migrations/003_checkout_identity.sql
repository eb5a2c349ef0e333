-- What makes a checkout the same checkout again:
--   request_hash: a fingerprint of the request (address, card's last four and
--     expiry), so an idempotency key reused for another request is refused;
--   cart_version: the cart it bought. Two checkouts of one cart version cannot
--     both be live: the second finds the first (a failed one leaves room to retry).
ALTER TABLE orders ADD COLUMN request_hash text NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN cart_version bigint;
CREATE UNIQUE INDEX orders_live_cart_version ON orders (user_id, cart_version)
    WHERE cart_version IS NOT NULL AND status <> 'failed';
