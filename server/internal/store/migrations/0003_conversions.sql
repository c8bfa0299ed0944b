-- Conversions, their status history, and refused conversion reports.
--
-- Conversions are money records: never dropped, and far fewer than clicks,
-- so one table with time-ordered IDs. Idempotency lives in two partial
-- unique indexes, so two racing reports of one order cannot both insert:
--   (advertiser_id, dedupe_key)      the order ID, when the offer deduplicates
--   (advertiser_id, idempotency_key) an explicit key, always
-- Other indexes serve the lookups: a publisher's or an advertiser's
-- conversions, an order's conversions, the previous sale of a user name
-- (FC2 recurring rule), a click's conversions, and auto-approval.

CREATE TABLE conversions (
    id                  text COLLATE "C" PRIMARY KEY,
    advertiser_id       text NOT NULL REFERENCES advertisers (id),
    offer_id            text NOT NULL REFERENCES offers (id),
    publisher_id        text,
    site_id             text,
    click_id            text COLLATE "C",
    click_created_at    timestamptz,
    order_id            text NOT NULL,
    order_id_2          text NOT NULL DEFAULT '',
    dedupe_key          text,
    idempotency_key     text,
    currency            text NOT NULL,
    amount_minor        bigint NOT NULL,
    commission_currency text NOT NULL,
    commission_minor    bigint NOT NULL,
    items               jsonb NOT NULL DEFAULT '[]',
    recurring           boolean NOT NULL DEFAULT false,
    buyer_user_name     text NOT NULL DEFAULT '',
    buyer_email         text NOT NULL DEFAULT '',
    buyer_email_hash    text NOT NULL DEFAULT '',
    buyer_ip            inet,
    buyer_user_agent    text NOT NULL DEFAULT '',
    status              text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'reversed')),
    test                boolean NOT NULL DEFAULT false,
    source              smallint NOT NULL,
    attribution_path    text NOT NULL,
    attribution         jsonb NOT NULL,
    upstream_id         text NOT NULL DEFAULT '',
    sub_ids             text[] NOT NULL DEFAULT '{}',
    downstream_id       text NOT NULL DEFAULT '',
    sale_at             timestamptz NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX conversions_dedupe_idx ON conversions (advertiser_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE UNIQUE INDEX conversions_idempotency_idx ON conversions (advertiser_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX conversions_publisher_idx ON conversions (publisher_id, id) WHERE publisher_id IS NOT NULL;
CREATE INDEX conversions_advertiser_idx ON conversions (advertiser_id, id);
CREATE INDEX conversions_order_idx ON conversions (advertiser_id, order_id);
CREATE INDEX conversions_user_idx ON conversions (advertiser_id, buyer_user_name, sale_at) WHERE buyer_user_name <> '';
CREATE INDEX conversions_click_idx ON conversions (click_id) WHERE click_id IS NOT NULL;
CREATE INDEX conversions_pending_idx ON conversions (offer_id, created_at) WHERE status = 'pending' AND NOT test;

CREATE TABLE conversion_status_changes (
    conversion_id  text COLLATE "C" NOT NULL REFERENCES conversions (id),
    seq            integer NOT NULL,
    from_status    text NOT NULL,
    to_status      text NOT NULL,
    reason         text NOT NULL,
    note           text NOT NULL DEFAULT '',
    actor          text NOT NULL,
    at             timestamptz NOT NULL,
    PRIMARY KEY (conversion_id, seq)
);

-- Signatures already used, so that a captured signed request cannot be
-- replayed to create a second conversion while its timestamp is fresh.
CREATE TABLE used_signatures (
    advertiser_id  text NOT NULL,
    signature      text NOT NULL,
    expires_at     timestamptz NOT NULL,
    PRIMARY KEY (advertiser_id, signature)
);

CREATE TABLE conversion_refusals (
    id             text COLLATE "C" PRIMARY KEY,
    advertiser_id  text NOT NULL DEFAULT '',
    offer_id       text NOT NULL DEFAULT '',
    source         smallint NOT NULL,
    code           text NOT NULL,
    message        text NOT NULL,
    order_id       text NOT NULL DEFAULT '',
    click_id       text NOT NULL DEFAULT '',
    params         jsonb NOT NULL DEFAULT '{}',
    remote_ip      text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL
);
CREATE INDEX conversion_refusals_advertiser_idx ON conversion_refusals (advertiser_id, id);
