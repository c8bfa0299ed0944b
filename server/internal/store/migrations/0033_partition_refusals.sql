-- Refusal aggregates in monthly partitions by bucket (their minute), so
-- that BATON_REFUSAL_RETENTION drops whole months instead of deleting rows
-- (the hourly DELETE stays for the rows of the oldest month that is still
-- partly inside the retention).
--
-- The aggregate's unique key (advertiser_id, source, code, bucket), which
-- AddRefusal's ON CONFLICT counts into, includes the partition key, so it
-- stays unique across partitions. The ID cannot be a primary key any more
-- (bucket is not part of it, and bucket is NULL on rows from before 0017,
-- which therefore live in the default partition): IDs are random and only
-- page the list, so it keeps a plain index.

DO $$
DECLARE first_month timestamptz;
BEGIN
    SELECT coalesce(min(bucket), now()) FROM conversion_refusals INTO first_month;
    PERFORM baton_partition_table('conversion_refusals', 'bucket', NULL, first_month);
END $$;
CREATE UNIQUE INDEX conversion_refusals_bucket_idx ON conversion_refusals (advertiser_id, source, code, bucket);
CREATE INDEX conversion_refusals_id_idx ON conversion_refusals (id);
