-- Partners, offers and API keys: the configuration every other table hangs on.
-- IDs are text "<prefix>_<26 chars>" made by package ids: time-ordered, so
-- new rows land at the right edge of the primary key index.

CREATE TABLE api_keys (
    id            text COLLATE "C" PRIMARY KEY,
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'advertiser', 'publisher', 'network')),
    partner_id    text CHECK ((role = 'admin') = (partner_id IS NULL)),
    -- SHA-256 of the key. Keys carry 256 random bits, so a fast hash is
    -- enough: there is nothing to brute-force.
    key_hash      bytea NOT NULL UNIQUE,
    prefix        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
CREATE INDEX api_keys_partner_idx ON api_keys (partner_id, id);

-- Partner secrets are sealed with the master key (package secretbox): Baton
-- needs the plaintext to check FC2 sh and HMAC signatures, so they cannot be
-- hashed, but a database dump alone does not reveal them.
CREATE TABLE advertisers (
    id                          text COLLATE "C" PRIMARY KEY,
    name                        text NOT NULL,
    shop_id                     bigint GENERATED ALWAYS AS IDENTITY (START WITH 100) UNIQUE,
    require_signature           boolean NOT NULL DEFAULT false,
    registered_hosts            text[] NOT NULL DEFAULT '{}',
    store_email_plaintext       boolean NOT NULL DEFAULT false,
    secret_sealed               bytea NOT NULL,
    secret_hint                 text NOT NULL,
    previous_secret_sealed      bytea,
    previous_secret_expires_at  timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE publishers (
    id             text COLLATE "C" PRIMARY KEY,
    name           text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('media', 'network')),
    user_id        bigint GENERATED ALWAYS AS IDENTITY (START WITH 1000) UNIQUE,
    sub_id_params  text[] NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sites (
    id            text COLLATE "C" PRIMARY KEY,
    publisher_id  text NOT NULL REFERENCES publishers (id),
    name          text NOT NULL,
    url           text NOT NULL DEFAULT '',
    site_id       bigint GENERATED ALWAYS AS IDENTITY (START WITH 1000) UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sites_publisher_idx ON sites (publisher_id, id);

CREATE TABLE networks (
    id                          text COLLATE "C" PRIMARY KEY,
    name                        text NOT NULL,
    kickback_params             jsonb NOT NULL DEFAULT '{}',
    allowed_ips                 cidr[] NOT NULL DEFAULT '{}',
    trust_trace_context         boolean NOT NULL DEFAULT false,
    secret_sealed               bytea NOT NULL,
    secret_hint                 text NOT NULL,
    previous_secret_sealed      bytea,
    previous_secret_expires_at  timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE offers (
    id                          text COLLATE "C" PRIMARY KEY,
    advertiser_id               text NOT NULL REFERENCES advertisers (id),
    name                        text NOT NULL,
    status                      text NOT NULL CHECK (status IN ('active', 'paused')),
    landing_url                 text NOT NULL,
    fallback_url                text NOT NULL DEFAULT '',
    deep_link_hosts             text[] NOT NULL DEFAULT '{}',
    sub_id_params               text[] NOT NULL DEFAULT '{}',
    click_id_param              text NOT NULL DEFAULT '',
    fc2_params                  boolean NOT NULL DEFAULT false,
    downstream_network_id       text REFERENCES networks (id),
    attribution_window          interval NOT NULL,
    attribution_model           text NOT NULL CHECK (attribution_model IN ('last_click', 'first_click')),
    ip_match_window             interval NOT NULL,
    dedupe_order_id             boolean NOT NULL DEFAULT true,
    timestamp_tolerance         interval NOT NULL,
    auto_approve_after_days     integer NOT NULL DEFAULT 0 CHECK (auto_approve_after_days >= 0),
    -- Payout: a fixed amount (minor units + currency) or basis points of the sale.
    payout_fixed_minor          bigint,
    payout_fixed_currency       text,
    payout_percent_bps          integer CHECK (payout_percent_bps BETWEEN 0 AND 10000),
    duplicate_click_interval    interval NOT NULL,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CHECK ((payout_fixed_minor IS NULL) = (payout_fixed_currency IS NULL)),
    CHECK ((payout_fixed_minor IS NULL) <> (payout_percent_bps IS NULL))
);
CREATE INDEX offers_advertiser_idx ON offers (advertiser_id, id);

CREATE TABLE offer_payout_overrides (
    offer_id               text NOT NULL REFERENCES offers (id) ON DELETE CASCADE,
    publisher_id           text NOT NULL REFERENCES publishers (id),
    payout_fixed_minor     bigint,
    payout_fixed_currency  text,
    payout_percent_bps     integer CHECK (payout_percent_bps BETWEEN 0 AND 10000),
    PRIMARY KEY (offer_id, publisher_id),
    CHECK ((payout_fixed_minor IS NULL) = (payout_fixed_currency IS NULL)),
    CHECK ((payout_fixed_minor IS NULL) <> (payout_percent_bps IS NULL))
);
