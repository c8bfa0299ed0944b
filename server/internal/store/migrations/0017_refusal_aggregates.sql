-- Refusals are aggregated: one row per advertiser, source, code and minute
-- (bucket), with how many were refused, when the first and the last came
-- and the first few as samples, so that a flood of garbage grows the table
-- by at most one row per code and minute instead of one per request. Rows
-- from before keep a NULL bucket (NULLs never conflict) and become their
-- own one-sample aggregates.
ALTER TABLE conversion_refusals
    ADD COLUMN bucket    timestamptz,
    ADD COLUMN count     bigint NOT NULL DEFAULT 1,
    ADD COLUMN last_seen timestamptz,
    ADD COLUMN samples   jsonb NOT NULL DEFAULT '[]';
UPDATE conversion_refusals SET last_seen = created_at,
    samples = jsonb_build_array(jsonb_build_object('message', message, 'order_id', order_id, 'click_id', click_id,
        'params', params, 'remote_ip', remote_ip, 'time', created_at));
ALTER TABLE conversion_refusals ALTER COLUMN last_seen SET NOT NULL;
CREATE UNIQUE INDEX conversion_refusals_bucket_idx ON conversion_refusals (advertiser_id, source, code, bucket);
-- Retention deletes by first-seen time (never updated, so updates stay HOT).
CREATE INDEX conversion_refusals_created_idx ON conversion_refusals (created_at);
