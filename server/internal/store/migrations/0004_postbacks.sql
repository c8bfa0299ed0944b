-- Postbacks: where results are kicked back to, what is owed, every attempt.
--
-- A delivery is written in the same transaction as the conversion or status
-- change that causes it, together with its River job (the river_* tables,
-- created by River's own migrations): a crash can neither lose a postback
-- nor send one for a conversion that was rolled back. The values rendered
-- into the template are frozen in vars when the event happens.

CREATE TABLE postback_endpoints (
    id                          text COLLATE "C" PRIMARY KEY,
    publisher_id                text NOT NULL REFERENCES publishers (id),
    offer_id                    text REFERENCES offers (id),
    events                      text[] NOT NULL,
    method                      text NOT NULL CHECK (method IN ('get', 'post_form', 'post_json')),
    url_template                text NOT NULL,
    body_template               text NOT NULL DEFAULT '',
    headers                     jsonb NOT NULL DEFAULT '[]',
    signature_param             text NOT NULL DEFAULT '',
    test                        boolean NOT NULL DEFAULT false,
    state                       text NOT NULL DEFAULT 'enabled' CHECK (state IN ('enabled', 'disabled', 'disabled_failing')),
    state_reason                text NOT NULL DEFAULT '',
    failing_since               timestamptz,
    secret_sealed               bytea NOT NULL,
    secret_hint                 text NOT NULL,
    previous_secret_sealed      bytea,
    previous_secret_expires_at  timestamptz,
    deleted_at                  timestamptz,
    created_at                  timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL
);
CREATE INDEX postback_endpoints_publisher_idx ON postback_endpoints (publisher_id, id) WHERE deleted_at IS NULL;

CREATE TABLE postback_deliveries (
    id               text COLLATE "C" PRIMARY KEY,
    endpoint_id      text NOT NULL REFERENCES postback_endpoints (id),
    publisher_id     text NOT NULL,
    advertiser_id    text NOT NULL,
    conversion_id    text NOT NULL REFERENCES conversions (id),
    event            text NOT NULL,
    state            text NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed', 'cancelled')),
    attempt_count    integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    vars             jsonb NOT NULL,
    test             boolean NOT NULL,
    traceparent      text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX postback_deliveries_endpoint_idx ON postback_deliveries (endpoint_id, id);
CREATE INDEX postback_deliveries_publisher_idx ON postback_deliveries (publisher_id, id);
CREATE INDEX postback_deliveries_advertiser_idx ON postback_deliveries (advertiser_id, id);
CREATE INDEX postback_deliveries_conversion_idx ON postback_deliveries (conversion_id);
CREATE INDEX postback_deliveries_pending_idx ON postback_deliveries (next_attempt_at) WHERE state = 'pending';

CREATE TABLE postback_attempts (
    delivery_id       text COLLATE "C" NOT NULL REFERENCES postback_deliveries (id),
    number            integer NOT NULL,
    at                timestamptz NOT NULL,
    url               text NOT NULL,
    status_code       integer NOT NULL,
    outcome           text NOT NULL,
    latency_us        bigint NOT NULL,
    response_excerpt  text NOT NULL DEFAULT '',
    error             text NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, number)
);

-- Inbound kickbacks find their network by the token in the URL: a hash of
-- the current and previous token (the token itself stays sealed).
ALTER TABLE networks ADD COLUMN token_hash bytea;
ALTER TABLE networks ADD COLUMN previous_token_hash bytea;
CREATE INDEX networks_token_idx ON networks (token_hash);
CREATE INDEX networks_previous_token_idx ON networks (previous_token_hash);
