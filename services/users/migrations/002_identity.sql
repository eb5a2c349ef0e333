-- The keys users signs access tokens with (Ed25519 seeds), newest first in use.
-- Public halves are published as a JWKS; a key is kept until every token it signed
-- has expired.
CREATE TABLE signing_keys (
    kid        text PRIMARY KEY,
    seed       bytea NOT NULL CHECK (length(seed) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Failed logins per account (keyed by a hash of the lower-cased email, so that
-- unknown addresses are counted too without being stored), for the backoff.
CREATE TABLE login_failures (
    account      text PRIMARY KEY,
    failures     integer NOT NULL,
    first_at     timestamptz NOT NULL,
    locked_until timestamptz
);
