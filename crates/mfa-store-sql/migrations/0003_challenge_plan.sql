-- mfa-store-sql, version 3, for every engine (rendered as 0001_init.sql is): a challenge carries
-- its attempt plan (`Challenge::plan`, the budgets each attempt on it takes). The engines' own
-- files for this version, postgres/0003_flow.sql and mysql/0003_flow.sql, hold the routines
-- that make each coarse operation of a login (`FlowStore`) one round trip.
--
-- MySQL commits each statement as it goes; a run interrupted here is completed by the next
-- `migrate()`, which skips a column or routine that already exists (errors 1060, 1304).

-- The plan as `AttemptPlan::encode` wrote it, read back with `AttemptPlan::decode` (text that
-- does not decode is `Corrupt`). NULL: no plan, and every challenge made before version 3.
ALTER TABLE {p}challenges ADD COLUMN plan TEXT;

-- The same plan as the routines read it (`routines::plan`): JSON, every string hex of its
-- UTF-8 bytes, `{"tag": hex | null, "r": [[hex key, window ms, limit], ..], "u": [..]}`.
-- Written from the same value in the same statement as `plan`, and only ever read by the
-- routines, which cannot parse `plan`'s length-prefixed text; SQLite decodes `plan` in Rust.
ALTER TABLE {p}challenges ADD COLUMN plan_takes TEXT;
