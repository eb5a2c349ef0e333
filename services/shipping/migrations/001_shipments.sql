-- One shipment per order: a redelivered order.placed finds its shipment there.
CREATE TABLE shipments (
    id          uuid PRIMARY KEY,
    order_id    uuid NOT NULL UNIQUE,
    message_id  text NOT NULL,
    status      text NOT NULL CHECK (status IN ('created', 'shipped', 'delivered')),
    carrier     text NOT NULL,
    quote_cents bigint NOT NULL CHECK (quote_cents >= 0),
    country     text NOT NULL,
    units       integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
