CREATE TABLE charges (
    id              uuid PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
    currency        text NOT NULL,
    status          text NOT NULL CHECK (status IN ('succeeded', 'declined')),
    decline_reason  text NOT NULL DEFAULT '',
    card_brand      text NOT NULL,
    card_last4      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- At most one refund per charge, always of the full amount.
CREATE TABLE refunds (
    id           uuid PRIMARY KEY,
    charge_id    uuid NOT NULL UNIQUE REFERENCES charges,
    amount_cents bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
