-- mfa-store-sql, MySQL/MariaDB, version 1. `{p}` and `{n}` are replaced by the table prefix.
-- Times are BIGINT milliseconds since the Unix epoch. Identifiers (user ids, ids, purposes,
-- counter keys) are VARBINARY so they compare byte for byte (no case folding, no trailing-space
-- padding as the _ci and PAD SPACE collations do); digests and sealed blobs are VARBINARY/BLOB.

CREATE TABLE IF NOT EXISTS {p}totp_factors (
    user_id        VARBINARY(255) NOT NULL,
    id             VARBINARY(255) NOT NULL,
    sealed_secret  BLOB           NOT NULL,
    algorithm      VARCHAR(16)    NOT NULL,
    digits         BIGINT         NOT NULL,
    period         BIGINT         NOT NULL,
    label          TEXT           NOT NULL,
    status         VARCHAR(16)    NOT NULL,
    last_used_step BIGINT,
    created_at     BIGINT         NOT NULL,
    -- At most one pending factor per user (NULL for confirmed ones, and NULLs never collide).
    pending_user   VARBINARY(255) AS (IF(status = 'pending', user_id, NULL)) STORED,
    PRIMARY KEY (user_id, id),
    UNIQUE KEY {n}totp_factors_one_pending (pending_user)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS {p}challenges (
    id             VARBINARY(255) NOT NULL PRIMARY KEY,
    user_id        VARBINARY(255) NOT NULL,
    purpose        VARBINARY(255) NOT NULL,
    kind           VARCHAR(32)    NOT NULL,
    code_digest    VARBINARY(64),
    link_digest    VARBINARY(64),
    binding_digest VARBINARY(64),
    created_at     BIGINT         NOT NULL,
    expires_at     BIGINT         NOT NULL,
    attempts_left  BIGINT         NOT NULL,
    consumed       BOOLEAN        NOT NULL,
    UNIQUE KEY {n}challenges_user_purpose (user_id, purpose),
    KEY {n}challenges_expires (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS {p}recovery_codes (
    user_id    VARBINARY(255) NOT NULL,
    locator    VARBINARY(64)  NOT NULL,
    verifier   TEXT           NOT NULL,
    created_at BIGINT         NOT NULL,
    PRIMARY KEY (user_id, locator)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS {p}counters (
    counter_key  VARBINARY(1024) NOT NULL PRIMARY KEY,
    window_start BIGINT          NOT NULL,
    window_end   BIGINT          NOT NULL,
    count        BIGINT          NOT NULL,
    consecutive  BIGINT          NOT NULL,
    locked_until BIGINT,
    -- The instant the record stops existing: the later of window end and lock end.
    expires_at   BIGINT AS (GREATEST(window_end, COALESCE(locked_until, window_end))) STORED,
    KEY {n}counters_expires (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS {p}trusted_devices (
    user_id      VARBINARY(255) NOT NULL,
    id           VARBINARY(255) NOT NULL,
    token_digest VARBINARY(64)  NOT NULL,
    label        TEXT           NOT NULL,
    created_at   BIGINT         NOT NULL,
    expires_at   BIGINT         NOT NULL,
    last_seen    BIGINT         NOT NULL,
    PRIMARY KEY (user_id, id),
    UNIQUE KEY {n}trusted_devices_token (user_id, token_digest),
    KEY {n}trusted_devices_expires (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS {p}audit_events (
    seq        BIGINT         NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at         BIGINT         NOT NULL,
    user_id    VARBINARY(255) NOT NULL,
    kind       VARCHAR(64)    NOT NULL,
    outcome    VARCHAR(16)    NOT NULL,
    ip         TEXT,
    user_agent TEXT,
    KEY {n}audit_events_user (user_id, at, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS {p}settings (
    user_id   VARBINARY(255) NOT NULL PRIMARY KEY,
    enabled   VARCHAR(255)   NOT NULL,
    preferred VARCHAR(16),
    email     TEXT,
    phone     TEXT
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
