-- Conversions and their status history in monthly partitions by ID (see
-- 0030): a lookup by ID touches one partition, and a month can be dropped
-- whole once it is past BATON_CONVERSION_RETENTION (default: kept forever,
-- as before). conversion_status_changes is partitioned by conversion_id
-- with the same bounds, so a conversion and its history share a month and
-- go together.
--
-- Idempotency. The two unique indexes that settled racing reports of one
-- order, (advertiser_id, dedupe_key) and (advertiser_id, idempotency_key),
-- cannot stay on a partitioned table: PostgreSQL enforces uniqueness only
-- per partition unless the index includes the partition key, and including
-- the ID would make every key unique. A sale reported again next month must
-- still find the first one, so the keys move to conversion_keys, a small
-- ordinary table (one row per key, no payload) with the primary key
-- (advertiser_id, kind, key): the conversion and its keys are inserted by
-- one statement (store.InsertConversion), and a racing second report waits
-- on the key's index entry and then sees it, exactly as with the old
-- indexes. The key table leads with advertiser_id, the distribution key of
-- conversions in docs/SCALING.md, so the check stays on one shard. Dropping
-- a month of conversions deletes its keys in the same transaction.
--
-- Foreign keys. Deliveries and history still reference conversions (id):
-- PostgreSQL allows foreign keys to a partitioned table's primary key, and
-- a month of conversions cannot be dropped while a delivery still points
-- into it (the drop skips that month and tries again later).

ALTER TABLE postback_deliveries DROP CONSTRAINT postback_deliveries_conversion_id_fkey;
ALTER TABLE conversion_status_changes DROP CONSTRAINT conversion_status_changes_conversion_id_fkey;

CREATE TABLE conversion_keys (
    advertiser_id  text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('dedupe', 'idempotency')),
    key            text NOT NULL,
    conversion_id  text COLLATE "C" NOT NULL,
    PRIMARY KEY (advertiser_id, kind, key)
);
CREATE INDEX conversion_keys_conversion_idx ON conversion_keys (conversion_id);
INSERT INTO conversion_keys (advertiser_id, kind, key, conversion_id)
    SELECT advertiser_id, 'dedupe', dedupe_key, id FROM conversions WHERE dedupe_key IS NOT NULL
    UNION ALL
    SELECT advertiser_id, 'idempotency', idempotency_key, id FROM conversions WHERE idempotency_key IS NOT NULL;

DO $$
DECLARE first_month timestamptz;
BEGIN
    SELECT coalesce(min(created_at), now()) FROM conversions INTO first_month;
    PERFORM baton_partition_table('conversions', 'id', 'cv', first_month);
END $$;
ALTER TABLE conversions ADD CONSTRAINT conversions_pkey PRIMARY KEY (id);

DO $$
DECLARE first_month timestamptz;
BEGIN
    SELECT coalesce(min(created_at), now()) FROM conversions INTO first_month;
    PERFORM baton_partition_table('conversion_status_changes', 'conversion_id', 'cv', first_month);
END $$;
ALTER TABLE conversion_status_changes ADD CONSTRAINT conversion_status_changes_pkey PRIMARY KEY (conversion_id, seq);
ALTER TABLE conversion_status_changes ADD CONSTRAINT conversion_status_changes_conversion_id_fkey
    FOREIGN KEY (conversion_id) REFERENCES conversions (id);
ALTER TABLE postback_deliveries ADD CONSTRAINT postback_deliveries_conversion_id_fkey
    FOREIGN KEY (conversion_id) REFERENCES conversions (id);
