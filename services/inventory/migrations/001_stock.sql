CREATE TABLE stock (
    product_id text PRIMARY KEY,
    available  integer NOT NULL CHECK (available >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per order: its hold on stock and where that hold stands. A release of an
-- order never reserved leaves a row too, so a late Reserve for it changes nothing.
CREATE TABLE reservations (
    order_id       text PRIMARY KEY,
    status         text NOT NULL CHECK (status IN ('reserved', 'committed', 'released')),
    expires_at     timestamptz NOT NULL,
    release_reason text,
    traceparent    text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reservations_due ON reservations (expires_at) WHERE status = 'reserved';

CREATE TABLE reservation_items (
    order_id   text NOT NULL REFERENCES reservations ON DELETE CASCADE,
    product_id text NOT NULL,
    quantity   integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, product_id)
);
