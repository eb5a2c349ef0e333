CREATE TABLE orders (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'placed', 'failed')),
    total_cents      bigint NOT NULL CHECK (total_cents > 0),
    currency         text NOT NULL,
    failure_reason   text NOT NULL DEFAULT '',
    payment_id       text NOT NULL DEFAULT '',
    idempotency_key  text,
    shipping_address jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX orders_user_idempotency_key ON orders (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX orders_user_created ON orders (user_id, created_at DESC);
CREATE INDEX orders_pending ON orders (created_at) WHERE status = 'pending';

CREATE TABLE order_items (
    order_id    uuid NOT NULL REFERENCES orders ON DELETE CASCADE,
    product_id  text NOT NULL,
    quantity    integer NOT NULL CHECK (quantity > 0),
    price_cents bigint NOT NULL CHECK (price_cents > 0),
    PRIMARY KEY (order_id, product_id)
);

-- Events written in the same transaction as the order they announce; the relay
-- publishes them to RabbitMQ and marks them published.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    message_id   uuid NOT NULL UNIQUE,
    routing_key  text NOT NULL,
    payload      jsonb NOT NULL,
    traceparent  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
