-- An endpoint's sealed secrets (template secrets and secret headers): the
-- names, readable, and the values, sealed with the master key as one JSON
-- document. Values never leave the store but to the delivery worker.
ALTER TABLE postback_endpoints ADD COLUMN secret_names jsonb NOT NULL DEFAULT '[]';
ALTER TABLE postback_endpoints ADD COLUMN secrets_sealed bytea;
