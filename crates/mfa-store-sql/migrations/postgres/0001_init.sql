-- mfa-store-sql, PostgreSQL, version 1. `{p}` is replaced by the (schema-qualified) table prefix, `{n}` by the bare prefix (index names).
-- Times are BIGINT milliseconds since the Unix epoch; digests and sealed blobs are BYTEA.

CREATE TABLE IF NOT EXISTS {p}totp_factors (
    user_id        TEXT    NOT NULL,
    id             TEXT    NOT NULL,
    sealed_secret  BYTEA   NOT NULL,
    algorithm      TEXT    NOT NULL,
    digits         BIGINT  NOT NULL,
    period         BIGINT  NOT NULL,
    label          TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    last_used_step BIGINT,
    created_at     BIGINT  NOT NULL,
    PRIMARY KEY (user_id, id)
);
-- At most one pending factor per user.
CREATE UNIQUE INDEX IF NOT EXISTS {n}totp_factors_one_pending
    ON {p}totp_factors (user_id) WHERE status = 'pending';

CREATE TABLE IF NOT EXISTS {p}challenges (
    id             TEXT    NOT NULL PRIMARY KEY,
    user_id        TEXT    NOT NULL,
    purpose        TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    code_digest    BYTEA,
    link_digest    BYTEA,
    binding_digest BYTEA,
    created_at     BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL,
    attempts_left  BIGINT  NOT NULL,
    consumed       BOOLEAN NOT NULL,
    UNIQUE (user_id, purpose)
);
CREATE INDEX IF NOT EXISTS {n}challenges_expires ON {p}challenges (expires_at);

CREATE TABLE IF NOT EXISTS {p}recovery_codes (
    user_id    TEXT   NOT NULL,
    locator    BYTEA  NOT NULL,
    verifier   TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, locator)
);

CREATE TABLE IF NOT EXISTS {p}counters (
    counter_key  TEXT   NOT NULL PRIMARY KEY,
    window_start BIGINT NOT NULL,
    window_end   BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    consecutive  BIGINT NOT NULL,
    locked_until BIGINT,
    -- The instant the record stops existing: the later of window end and lock end.
    expires_at   BIGINT GENERATED ALWAYS AS (GREATEST(window_end, COALESCE(locked_until, window_end))) STORED
);
CREATE INDEX IF NOT EXISTS {n}counters_expires ON {p}counters (expires_at);

CREATE TABLE IF NOT EXISTS {p}trusted_devices (
    user_id      TEXT   NOT NULL,
    id           TEXT   NOT NULL,
    token_digest BYTEA  NOT NULL,
    label        TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, token_digest)
);
CREATE INDEX IF NOT EXISTS {n}trusted_devices_expires ON {p}trusted_devices (expires_at);

CREATE TABLE IF NOT EXISTS {p}audit_events (
    seq        BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    user_id    TEXT   NOT NULL,
    kind       TEXT   NOT NULL,
    outcome    TEXT   NOT NULL,
    ip         TEXT,
    user_agent TEXT
);
CREATE INDEX IF NOT EXISTS {n}audit_events_user ON {p}audit_events (user_id, at, seq);

CREATE TABLE IF NOT EXISTS {p}settings (
    user_id   TEXT NOT NULL PRIMARY KEY,
    enabled   TEXT NOT NULL,
    preferred TEXT,
    email     TEXT,
    phone     TEXT
);
