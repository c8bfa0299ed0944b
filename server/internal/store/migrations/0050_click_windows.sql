-- The duplicate-click window (the IAB rule: one unique click per visitor and
-- offer within the offer's duplicate_click_interval, 30 minutes by
-- default), shared by every Baton node on this database.
--
-- One row per (offer, visitor): the unique click that opened the visitor's
-- current window and when that window ends. The click loader (and the
-- direct click writer) upsert it in the transaction that stores the clicks:
-- a click at or after ends_at opens a new window and is unique, any other is
-- a duplicate. The redirect never waits for this: it is decided when the
-- spooled click reaches PostgreSQL (store/clickwindow.go).
--
-- visitor is the first 16 bytes of SHA-256 over the click's IP and user
-- agent, so the table holds no address. Rows whose window ended a day ago
-- are deleted by the loader (ends_at index).
CREATE TABLE click_windows (
    offer_id    text COLLATE "C" NOT NULL,
    visitor     bytea NOT NULL,
    started_at  timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    click_id    text COLLATE "C" NOT NULL,
    PRIMARY KEY (offer_id, visitor)
);
CREATE INDEX click_windows_ends_idx ON click_windows (ends_at);
