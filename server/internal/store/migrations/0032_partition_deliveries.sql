-- Postback deliveries and their attempts in monthly partitions by ID (see
-- 0030): postback_deliveries by its ID, postback_attempts by delivery_id
-- with the same bounds, so a delivery and its attempts share a month. The
-- worker loads deliveries by ID (one partition each); the outbox claim is
-- River's own table (river_job), which is not partitioned. Months past
-- BATON_DELIVERY_RETENTION (attempts: BATON_ATTEMPT_RETENTION; default:
-- kept forever, as before) are dropped whole, but never a month that still
-- holds a pending delivery: a postback owed is never dropped.
--
-- The primary keys, (id) and (delivery_id, number), include the partition
-- key, so they stay unique across partitions; the foreign keys stay too.

ALTER TABLE postback_attempts DROP CONSTRAINT postback_attempts_delivery_id_fkey;

DO $$
DECLARE first_month timestamptz;
BEGIN
    SELECT coalesce(min(created_at), now()) FROM postback_deliveries INTO first_month;
    PERFORM baton_partition_table('postback_deliveries', 'id', 'dlv', first_month);
END $$;
ALTER TABLE postback_deliveries ADD CONSTRAINT postback_deliveries_pkey PRIMARY KEY (id);

DO $$
DECLARE first_month timestamptz;
BEGIN
    SELECT coalesce(min(created_at), now()) FROM postback_deliveries INTO first_month;
    PERFORM baton_partition_table('postback_attempts', 'delivery_id', 'dlv', first_month);
END $$;
ALTER TABLE postback_attempts ADD CONSTRAINT postback_attempts_pkey PRIMARY KEY (delivery_id, number);
ALTER TABLE postback_attempts ADD CONSTRAINT postback_attempts_delivery_id_fkey
    FOREIGN KEY (delivery_id) REFERENCES postback_deliveries (id);
