-- Monthly partitions for the tables that grow with traffic, besides clicks
-- (0002): conversions and their history, postback deliveries and their
-- attempts, refusal aggregates (migrations 0031-0033 convert them).
--
-- Conversions, deliveries and their child rows are partitioned by RANGE on
-- their ID (or their parent's ID), not on a timestamp: IDs made by package
-- ids begin with the millisecond they were made in, and in the "C"
-- collation they sort as that time does, so the month of "cv_..." bounds the
-- ID. This keeps the primary key a plain (id): it includes the partition
-- key, so PostgreSQL enforces it across partitions, foreign keys keep
-- referencing (id), and every lookup by ID touches one partition without
-- the caller knowing anything about partitions. An ID that is not of that
-- form (none are made so) lands in the default partition and is never
-- dropped.
--
-- baton_id_floor is the smallest ID with prefix made at or after ts: the
-- prefix, "_", the 48 bits of milliseconds and 2 zero bits in 10 Crockford
-- base32 characters, then 16 zeros (package ids; TestIDFloorMatchesPackageIDs
-- checks the two agree).
CREATE FUNCTION baton_id_floor(prefix text, ts timestamptz) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    alphabet constant text := '0123456789abcdefghjkmnpqrstvwxyz';
    v bigint := floor(extract(epoch FROM ts) * 1000)::bigint << 2;
    out text := '';
BEGIN
    FOR i IN REVERSE 9 .. 0 LOOP
        out := out || substr(alphabet, ((v >> (5 * i)) & 31)::integer + 1, 1);
    END LOOP;
    RETURN prefix || '_' || out || repeat('0', 16);
END $$;

-- baton_ensure_partitions creates parent's monthly partitions
-- parent_YYYYMM covering [month of from_ts, that month + months): bounded by
-- IDs of id_prefix (baton_id_floor), or by time when id_prefix is NULL.
-- Idempotent. A month whose rows already sit in the default partition (it
-- was not created in time) is skipped with a warning instead of failing:
-- those rows stay in the default partition, which is never dropped.
CREATE FUNCTION baton_ensure_partitions(parent text, id_prefix text, from_ts timestamptz, months integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', from_ts AT TIME ZONE 'UTC')::date;
    lo timestamptz;
    hi timestamptz;
    created integer := 0;
    name text;
BEGIN
    FOR i IN 0 .. months - 1 LOOP
        name := parent || '_' || to_char(m, 'YYYYMM');
        lo := m::timestamp AT TIME ZONE 'UTC';
        hi := (m + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        IF to_regclass(name) IS NULL THEN
            BEGIN
                IF id_prefix IS NULL THEN
                    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', name, parent, lo, hi);
                ELSE
                    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', name, parent,
                        baton_id_floor(id_prefix, lo), baton_id_floor(id_prefix, hi));
                END IF;
                created := created + 1;
            EXCEPTION WHEN check_violation THEN
                RAISE WARNING 'partition % not created: its rows are in the default partition', name;
            END;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN created;
END $$;

-- baton_expired_partitions lists parent's monthly partitions that end at or
-- before cutoff, oldest first.
CREATE FUNCTION baton_expired_partitions(parent text, cutoff timestamptz) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT c.relname::text
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_class p ON p.oid = i.inhparent
    WHERE p.relname = parent AND p.relnamespace = c.relnamespace
      AND c.relname ~ ('^' || parent || '_[0-9]{6}$')
      AND (to_date(right(c.relname, 6), 'YYYYMM') + interval '1 month')::timestamp AT TIME ZONE 'UTC' <= cutoff
    ORDER BY c.relname
$$;

-- baton_partition_table turns an ordinary table into a partitioned one of
-- the same name, in place: the old table is renamed, a partitioned copy of
-- its columns (defaults, NOT NULL and CHECK constraints included) is created
-- PARTITION BY RANGE (key) with a default partition and the monthly
-- partitions from from_ts to three months ahead, the rows are moved, and the
-- old table's non-unique indexes and outgoing foreign keys are recreated on
-- the new one under their old names. Unique indexes and the primary key are
-- the caller's to recreate (each must include the partition key), as are
-- foreign keys that point at the table (drop them first).
CREATE FUNCTION baton_partition_table(tbl text, key text, id_prefix text, from_ts timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    old text := tbl || '_unpartitioned';
    defs text[];
    fks text[];
    d text;
BEGIN
    EXECUTE format('ALTER TABLE %I RENAME TO %I', tbl, old);
    SELECT coalesce(array_agg(pg_get_indexdef(ix.indexrelid)), '{}') INTO defs
        FROM pg_index ix WHERE ix.indrelid = old::regclass AND NOT ix.indisunique;
    SELECT coalesce(array_agg(format('ALTER TABLE %I ADD CONSTRAINT %I %s', tbl, conname, pg_get_constraintdef(oid))), '{}') INTO fks
        FROM pg_constraint WHERE conrelid = old::regclass AND contype = 'f' AND conparentid = 0;
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE (%I)',
        tbl, old, key);
    EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', tbl || '_default', tbl);
    PERFORM baton_ensure_partitions(tbl, id_prefix, least(from_ts, now()),
        ((extract(year FROM age(date_trunc('month', now()), date_trunc('month', least(from_ts, now())))) * 12
          + extract(month FROM age(date_trunc('month', now()), date_trunc('month', least(from_ts, now())))))::integer + 4));
    EXECUTE format('INSERT INTO %I SELECT * FROM %I', tbl, old);
    EXECUTE format('DROP TABLE %I', old);
    FOREACH d IN ARRAY defs LOOP
        -- "CREATE INDEX name ON [schema.]tbl_unpartitioned USING ..."
        EXECUTE regexp_replace(d, ' ON (\S+\.)?' || old || ' ', ' ON \1' || tbl || ' ');
    END LOOP;
    FOREACH d IN ARRAY fks LOOP
        EXECUTE d;
    END LOOP;
END $$;
