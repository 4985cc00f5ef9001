-- mfa-store-sql, version 1: every table, written once for PostgreSQL, MySQL/MariaDB and SQLite.
--
-- `migrate.rs` renders this per engine: `{p}` is the table prefix (schema-qualified on
-- PostgreSQL), `{n}` the bare prefix (index names); `{id}`, `{key}`, `{blob}`, `{digest}`,
-- `{serial}`, `{varchar(N)}`, `{greatest}` and `{table}` are the engine's spellings (its
-- `Syntax::types`); a line tagged `--[engine,..]` belongs to those engines only.
-- Times are BIGINT milliseconds since the Unix epoch. On MySQL identifiers are VARBINARY, so they
-- compare byte for byte (the default collations fold case and ignore trailing spaces).

CREATE TABLE IF NOT EXISTS {p}totp_factors (
    user_id        {id}          NOT NULL,
    id             {id}          NOT NULL,
    sealed_secret  {blob}        NOT NULL,
    algorithm      {varchar(16)} NOT NULL,
    digits         BIGINT        NOT NULL,
    period         BIGINT        NOT NULL,
    label          TEXT          NOT NULL,
    status         {varchar(16)} NOT NULL,
    last_used_step BIGINT,
    created_at     BIGINT        NOT NULL,
    -- At most one pending factor per user. MySQL has no partial index: a unique key on a column
    -- that holds the user id on the pending row and NULL on confirmed ones (NULLs never collide).
--[mysql] pending_user {id} AS (IF(status = 'pending', user_id, NULL)) STORED,
--[mysql] UNIQUE KEY {n}totp_factors_one_pending (pending_user),
    PRIMARY KEY (user_id, id)
){table};
--[postgres,sqlite] CREATE UNIQUE INDEX IF NOT EXISTS {n}totp_factors_one_pending
--[postgres,sqlite]     ON {p}totp_factors (user_id) WHERE status = 'pending';

CREATE TABLE IF NOT EXISTS {p}challenges (
    id             {id}          NOT NULL PRIMARY KEY,
    user_id        {id}          NOT NULL,
    purpose        {id}          NOT NULL,
    kind           {varchar(32)} NOT NULL,
    code_digest    {digest},
    link_digest    {digest},
    binding_digest {digest},
    created_at     BIGINT        NOT NULL,
    expires_at     BIGINT        NOT NULL,
    attempts_left  BIGINT        NOT NULL,
    consumed       BOOLEAN       NOT NULL,
--[postgres,sqlite] UNIQUE (user_id, purpose)
--[mysql] UNIQUE KEY {n}challenges_user_purpose (user_id, purpose),
--[mysql] KEY {n}challenges_expires (expires_at)
){table};
--[postgres,sqlite] CREATE INDEX IF NOT EXISTS {n}challenges_expires ON {p}challenges (expires_at);

CREATE TABLE IF NOT EXISTS {p}recovery_codes (
    user_id    {id}     NOT NULL,
    locator    {digest} NOT NULL,
    verifier   TEXT     NOT NULL,
    created_at BIGINT   NOT NULL,
    PRIMARY KEY (user_id, locator)
){table};

CREATE TABLE IF NOT EXISTS {p}counters (
    counter_key  {key}  NOT NULL PRIMARY KEY,
    window_start BIGINT NOT NULL,
    window_end   BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    consecutive  BIGINT NOT NULL,
    locked_until BIGINT,
    -- The instant the record stops existing: the later of window end and lock end.
    expires_at   BIGINT GENERATED ALWAYS AS ({greatest}(window_end, COALESCE(locked_until, window_end))) STORED
--[mysql] , KEY {n}counters_expires (expires_at)
){table};
--[postgres,sqlite] CREATE INDEX IF NOT EXISTS {n}counters_expires ON {p}counters (expires_at);

CREATE TABLE IF NOT EXISTS {p}trusted_devices (
    user_id      {id}     NOT NULL,
    id           {id}     NOT NULL,
    token_digest {digest} NOT NULL,
    label        TEXT     NOT NULL,
    created_at   BIGINT   NOT NULL,
    expires_at   BIGINT   NOT NULL,
    last_seen    BIGINT   NOT NULL,
    PRIMARY KEY (user_id, id),
--[postgres,sqlite] UNIQUE (user_id, token_digest)
--[mysql] UNIQUE KEY {n}trusted_devices_token (user_id, token_digest),
--[mysql] KEY {n}trusted_devices_expires (expires_at)
){table};
--[postgres,sqlite] CREATE INDEX IF NOT EXISTS {n}trusted_devices_expires ON {p}trusted_devices (expires_at);

CREATE TABLE IF NOT EXISTS {p}audit_events (
    seq        {serial},
    at         BIGINT        NOT NULL,
    user_id    {id}          NOT NULL,
    kind       {varchar(64)} NOT NULL,
    outcome    {varchar(16)} NOT NULL,
    ip         TEXT,
    user_agent TEXT
--[mysql] , KEY {n}audit_events_user (user_id, at, seq)
){table};
--[postgres,sqlite] CREATE INDEX IF NOT EXISTS {n}audit_events_user ON {p}audit_events (user_id, at, seq);

CREATE TABLE IF NOT EXISTS {p}settings (
    user_id   {id}           NOT NULL PRIMARY KEY,
    enabled   {varchar(255)} NOT NULL,
    preferred {varchar(16)},
    email     TEXT,
    phone     TEXT
){table};
