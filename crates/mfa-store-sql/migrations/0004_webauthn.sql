-- mfa-store-sql, version 4, for every engine (rendered as 0001_init.sql is): WebAuthn
-- credentials and the state of their ceremonies.
--
-- A credential id is unique per relying party across users (one authenticator's credential
-- belongs to one account). MySQL cannot index a BLOB whole, so there the id is a VARBINARY of
-- the largest size WebAuthn allows (1023 bytes).

CREATE TABLE IF NOT EXISTS {p}webauthn_credentials (
    user_id         {id}     NOT NULL,
    id              {id}     NOT NULL,
    rp_id           {id}     NOT NULL,
--[postgres,sqlite] credential_id {blob} NOT NULL,
--[mysql] credential_id VARBINARY(1023) NOT NULL,
    label           TEXT     NOT NULL,
    credential      {blob}   NOT NULL,
    sign_count      BIGINT   NOT NULL,
    backup_eligible BOOLEAN  NOT NULL,
    backup_state    BOOLEAN  NOT NULL,
    use_count       BIGINT   NOT NULL,
    created_at      BIGINT   NOT NULL,
    last_used_at    BIGINT,
    PRIMARY KEY (user_id, id),
--[postgres,sqlite] UNIQUE (rp_id, credential_id)
--[mysql] UNIQUE KEY {n}webauthn_credential_id (rp_id, credential_id)
){table};

-- One row per ceremony; a take deletes the row it read, on the whole row's state, so that of
-- concurrent takes one deletes it.
CREATE TABLE IF NOT EXISTS {p}webauthn_ceremonies (
    user_id    {id}          NOT NULL,
    id         {id}          NOT NULL,
    kind       {varchar(16)} NOT NULL,
    state      {blob}        NOT NULL,
    created_at BIGINT        NOT NULL,
    expires_at BIGINT        NOT NULL,
    PRIMARY KEY (user_id, id)
--[mysql] , KEY {n}webauthn_ceremonies_expires (expires_at)
){table};
--[postgres,sqlite] CREATE INDEX IF NOT EXISTS {n}webauthn_ceremonies_expires ON {p}webauthn_ceremonies (expires_at);
