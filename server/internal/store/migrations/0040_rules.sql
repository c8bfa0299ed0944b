-- Conversion rules (issue 19). A rule set is owned by the network ('') or
-- by one advertiser (its ID); every save makes a new version of the set,
-- and the latest version of each owner's set is the one in force. The
-- document is the whole set as package rules reads it, every rule with its
-- ID and version, so the set in force is read in one row.
CREATE TABLE rule_sets (
    owner      text        NOT NULL,
    version    integer     NOT NULL CHECK (version > 0),
    document   jsonb       NOT NULL,
    created_at timestamptz NOT NULL,
    created_by text        NOT NULL,
    PRIMARY KEY (owner, version)
);

-- Every version of every rule, as it was saved: a conversion names the rule
-- and version that decided it, and that version stays readable after the
-- rule changes or is removed.
CREATE TABLE rule_versions (
    rule_id    text        NOT NULL,
    version    integer     NOT NULL CHECK (version > 0),
    owner      text        NOT NULL,
    name       text        NOT NULL,
    definition jsonb       NOT NULL,
    created_at timestamptz NOT NULL,
    created_by text        NOT NULL,
    PRIMARY KEY (rule_id, version)
);
CREATE INDEX rule_versions_owner_idx ON rule_versions (owner, rule_id);
