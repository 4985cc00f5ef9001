-- mfa-store-sql, version 2, for every engine (rendered as 0001_init.sql is): what the store
-- contract added. Counter takes, revocation of a user's challenges and the channel of a sent code
-- need no new column (the kind column names the channel); MySQL's one-round-trip take is its own
-- file, mysql/0002_take_counters.sql.
--
-- MySQL commits each statement as it goes; a run interrupted here is completed by the next
-- `migrate()`, which skips a column or routine that already exists (errors 1060, 1061, 1304).

-- When the first code proved the factor: NULL while pending, and for factors confirmed before
-- version 2 (the time was not recorded then).
ALTER TABLE {p}totp_factors ADD COLUMN confirmed_at BIGINT;

-- The administrator who acted, when not the user.
ALTER TABLE {p}audit_events ADD COLUMN actor TEXT;
