-- The rule (and its version) that decided a conversion at intake, and the
-- end of a hold: a held conversion stays pending until hold_until and is
-- approved automatically then, unless it was rejected meanwhile. The hold
-- column may also be added by the hold-and-lock migration, hence IF NOT
-- EXISTS.
ALTER TABLE conversions ADD COLUMN IF NOT EXISTS hold_until timestamptz;
ALTER TABLE conversions ADD COLUMN rule_id text;
ALTER TABLE conversions ADD COLUMN rule_version integer;
CREATE INDEX conversions_hold_until_idx ON conversions (hold_until) WHERE status = 'pending' AND hold_until IS NOT NULL;
