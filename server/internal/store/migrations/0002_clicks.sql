-- Tracking links and clicks.
--
-- Clicks are the volume table. They are range-partitioned by month on
-- created_at, which equals the millisecond encoded in the click ID: a lookup
-- by ID computes created_at from the ID and touches one partition. Old
-- months are dropped whole (retention, see baton_drop_click_partitions), so
-- there is no DELETE and no bloat. A default partition catches any row whose
-- month was not created in time, so a click is never refused for that.
--
-- Indexes are only those the lookups need (each one costs every insert):
--   primary key (id, created_at)       GetClick, keyset paging in ID order
--   (publisher_id, id)                 a publisher's clicks, paged
--   (offer_id, ip, created_at)         attribution by IP, duplicate checks
--   (upstream_id) partial              "find the click by the ID it arrived with"
-- There are no foreign keys on clicks: the service resolves the link first,
-- and a per-row FK check would cost every insert.

CREATE TABLE tracking_links (
    id            text COLLATE "C" PRIMARY KEY,
    offer_id      text NOT NULL REFERENCES offers (id),
    publisher_id  text NOT NULL REFERENCES publishers (id),
    site_id       text REFERENCES sites (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tracking_links_publisher_idx ON tracking_links (publisher_id, id);
CREATE INDEX tracking_links_offer_idx ON tracking_links (offer_id, id);

CREATE TABLE clicks (
    id                text COLLATE "C" NOT NULL,
    created_at        timestamptz NOT NULL,
    link_id           text NOT NULL DEFAULT '',
    offer_id          text NOT NULL,
    advertiser_id     text NOT NULL,
    publisher_id      text NOT NULL,
    site_id           text NOT NULL DEFAULT '',
    source            smallint NOT NULL,
    sub_ids           text[] NOT NULL DEFAULT '{}',
    upstream_id       text,
    upstream_param    text NOT NULL DEFAULT '',
    downstream_param  text NOT NULL DEFAULT '',
    redirect_url      text NOT NULL DEFAULT '',
    deep_link         text NOT NULL DEFAULT '',
    ip                inet,
    user_agent        text NOT NULL DEFAULT '',
    referer           text NOT NULL DEFAULT '',
    flags             smallint NOT NULL DEFAULT 0,
    is_unique         boolean NOT NULL,
    expires_at        timestamptz NOT NULL,
    traceparent       text NOT NULL DEFAULT '',
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

CREATE INDEX clicks_publisher_idx ON clicks (publisher_id, id);
CREATE INDEX clicks_offer_ip_idx ON clicks (offer_id, ip, created_at);
CREATE INDEX clicks_upstream_idx ON clicks (upstream_id) WHERE upstream_id IS NOT NULL;

CREATE TABLE clicks_default PARTITION OF clicks DEFAULT;

-- baton_ensure_click_partitions creates the monthly partitions covering
-- [month of from_ts, that month + months). Idempotent.
CREATE FUNCTION baton_ensure_click_partitions(from_ts timestamptz, months integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', from_ts AT TIME ZONE 'UTC')::date;
    created integer := 0;
    name text;
BEGIN
    FOR i IN 0 .. months - 1 LOOP
        name := 'clicks_' || to_char(m, 'YYYYMM');
        IF to_regclass(name) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF clicks FOR VALUES FROM (%L) TO (%L)',
                name, (m::timestamp AT TIME ZONE 'UTC'), ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            created := created + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN created;
END $$;

-- baton_drop_click_partitions drops monthly partitions that end before
-- cutoff and returns their names.
CREATE FUNCTION baton_drop_click_partitions(cutoff timestamptz) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.relname AS name
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = 'clicks' AND c.relname ~ '^clicks_[0-9]{6}$'
          AND (to_date(substr(c.relname, 8), 'YYYYMM') + interval '1 month')::timestamp AT TIME ZONE 'UTC' <= cutoff
    LOOP
        EXECUTE format('DROP TABLE %I', r.name);
        RETURN NEXT r.name;
    END LOOP;
END $$;

SELECT baton_ensure_click_partitions(now() - interval '1 month', 4);
