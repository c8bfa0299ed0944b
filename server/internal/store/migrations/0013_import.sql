-- Moving a program from FC2/CATS (baton import, ConfigService.ImportProgram).
--
-- Shops keep their shop IDs and passwords, affiliates their user and site
-- IDs, so the numbers are given instead of drawn from the identity
-- sequences (INSERT ... OVERRIDING SYSTEM VALUE); the store then moves each
-- sequence past the largest number given, so a later automatically
-- numbered shop, publisher or site can never take an imported number.
--
-- imported marks what the import created: a second run of the same files
-- recognises its own rows by their natural keys and leaves them alone, but
-- refuses to adopt a record that was created in Baton under the same number.
ALTER TABLE advertisers ADD COLUMN imported boolean NOT NULL DEFAULT false;
ALTER TABLE publishers ADD COLUMN imported boolean NOT NULL DEFAULT false;
ALTER TABLE sites ADD COLUMN imported boolean NOT NULL DEFAULT false;
ALTER TABLE offers ADD COLUMN imported boolean NOT NULL DEFAULT false;
-- Imported conversions (source 5) are keyed by idempotency key
-- "import:<order ID>", unique per advertiser by conversions_idempotency_idx.
