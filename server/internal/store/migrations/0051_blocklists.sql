-- Blocklists: IP ranges, user agents and sub-IDs treated as fraud,
-- network-wide or for one offer and/or publisher (BlocklistService). Each
-- node keeps the whole list compiled in memory (at most 10,000 entries) and
-- reloads it on a configuration change, so clicks never read this table.
CREATE TABLE blocklist_entries (
    id            text COLLATE "C" PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('ip', 'user_agent', 'sub_id')),
    match         text NOT NULL CHECK (match IN ('cidr', 'substring', 'regexp', 'exact', 'glob')),
    value         text NOT NULL,
    offer_id      text REFERENCES offers (id),
    publisher_id  text REFERENCES publishers (id),
    note          text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX blocklist_entries_created_idx ON blocklist_entries (created_at DESC, id);
