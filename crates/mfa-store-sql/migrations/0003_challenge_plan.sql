-- mfa-store-sql, version 3, for every engine (rendered as 0001_init.sql is): a challenge carries
-- its attempt plan (`Challenge::plan`, the budgets each attempt on it takes).
--
-- MySQL commits each statement as it goes; a run interrupted here is completed by the next
-- `migrate()`, which skips a column that already exists (error 1060).

-- The plan as `AttemptPlan::encode` wrote it, read back with `AttemptPlan::decode` (text that
-- does not decode is `Corrupt`). NULL: no plan, and every challenge made before version 3.
ALTER TABLE {p}challenges ADD COLUMN plan TEXT;

-- The same plan as the routines read it (`routines::plan_json`): JSON, every string hex of its
-- UTF-8 bytes, `{"tag": hex | null, "r": [[hex key, window ms, limit], ..], "u": [..]}`.
-- Written from the same value in the same statement as `plan`, for server-side routines that
-- take an attempt's budgets in the step that spends its try (they cannot parse `plan`'s
-- length-prefixed text); Rust reads only `plan`.
ALTER TABLE {p}challenges ADD COLUMN plan_takes TEXT;
