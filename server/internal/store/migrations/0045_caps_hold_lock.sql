-- Caps, hold and lock, and conversion signals (issue 19).
--
-- offers.controls holds an offer's conversion controls as JSON (time zone,
-- hold and lock periods, click-to-conversion thresholds, conversion limits
-- per click and per IP, and what each signal does): set with
-- CapService.SetOfferControls, read with the offer.
--
-- A conversion keeps the signals found at intake, and its hold: hold_until
-- (approved automatically once passed, unless rejected) and hold_reason
-- (non-empty: held until a person decides, e.g. at a cap).
--
-- caps are the offer's and its publishers' limits on clicks, conversions and
-- payout per day, month or in total; cap_counters count each cap's use per
-- period (the period's start, in the offer's time zone), updated inside the
-- conversion's transaction with a guarded upsert, so racing conversions on
-- any number of nodes never pass a cap. Click caps are counted by the click
-- path (helper E), which reads its definitions from caps.
ALTER TABLE offers ADD COLUMN controls jsonb NOT NULL DEFAULT '{}';

ALTER TABLE conversions ADD COLUMN signals text[] NOT NULL DEFAULT '{}';
ALTER TABLE conversions ADD COLUMN IF NOT EXISTS hold_until timestamptz; -- 0041 adds it first on a fresh database
ALTER TABLE conversions ADD COLUMN hold_reason text NOT NULL DEFAULT '';
CREATE INDEX conversions_buyer_ip_idx ON conversions (offer_id, buyer_ip, created_at) WHERE buyer_ip IS NOT NULL;

CREATE TABLE caps (
    id            text COLLATE "C" PRIMARY KEY,
    offer_id      text NOT NULL REFERENCES offers (id),
    publisher_id  text NOT NULL DEFAULT '',
    kind          text NOT NULL CHECK (kind IN ('clicks', 'conversions', 'payout')),
    period        text NOT NULL CHECK (period IN ('day', 'month', 'total')),
    cap_limit     bigint NOT NULL CHECK (cap_limit > 0),
    currency      text NOT NULL DEFAULT '',
    action        text NOT NULL DEFAULT 'reject' CHECK (action IN ('hold', 'reject')),
    created_at    timestamptz NOT NULL,
    UNIQUE (offer_id, publisher_id, kind, period)
);

CREATE TABLE cap_counters (
    cap_id        text COLLATE "C" NOT NULL REFERENCES caps (id) ON DELETE CASCADE,
    period_start  timestamptz NOT NULL,
    used          bigint NOT NULL,
    PRIMARY KEY (cap_id, period_start)
);
