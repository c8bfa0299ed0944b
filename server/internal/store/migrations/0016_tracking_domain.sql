-- The shop's own tracking host (a CNAME to Baton): links, tags and the
-- first-party tag of its offers use it, so the click cookie is first-party.
ALTER TABLE advertisers ADD COLUMN tracking_domain text NOT NULL DEFAULT '';
