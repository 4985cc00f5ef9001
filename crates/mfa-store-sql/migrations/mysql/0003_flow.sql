-- mfa-store-sql, version 3, MySQL/MariaDB only: the routines behind the counter takes, the
-- lock, the creation of a challenge and the coarse operations of a login
-- (`mfa_store::FlowStore`), so that each is one CALL: one round trip. MySQL has no RETURNING,
-- so without a routine an operation that must say what it changed is a transaction of four
-- round trips.
--
-- The building blocks (`take_one`, `take_each`, `lock_one`, `put_challenge`, `append_audits`)
-- control no transaction; the procedures the store calls (`take_list`, `lock_counter`,
-- `create_challenge`, `open_ticket`, `attempt`, `settle`) run them in one transaction, and on
-- any error roll back and resignal (the store retries a deadlock victim, and reports a
-- duplicate id, signalled as error 1062, as a conflict). Rows decide by reading the row they
-- hold under an exclusive lock, so a racer that waited sees the winner's write. Strings inside
-- JSON arguments are hex of their bytes (`routines.rs`). SQL SECURITY INVOKER: a routine can
-- do nothing its caller could not.
--
-- `{n}take_counters` (version 2) is left as it was for instances of the previous version
-- during a rolling upgrade; this version no longer calls it.

DROP FUNCTION IF EXISTS {n}unhex_at;
DROP PROCEDURE IF EXISTS {n}take_one;
DROP PROCEDURE IF EXISTS {n}take_each;
DROP PROCEDURE IF EXISTS {n}take_list;
DROP PROCEDURE IF EXISTS {n}lock_one;
DROP PROCEDURE IF EXISTS {n}lock_counter;
DROP PROCEDURE IF EXISTS {n}put_challenge;
DROP PROCEDURE IF EXISTS {n}create_challenge;
DROP PROCEDURE IF EXISTS {n}append_audits;
DROP PROCEDURE IF EXISTS {n}open_ticket;
DROP PROCEDURE IF EXISTS {n}attempt;
DROP PROCEDURE IF EXISTS {n}settle;

DELIMITER $$

-- The bytes whose hex is the JSON string at p_path of p_doc; NULL for JSON null or no value.
CREATE FUNCTION {n}unhex_at(p_doc LONGTEXT, p_path VARCHAR(255)) RETURNS LONGBLOB
    DETERMINISTIC
    NO SQL
    SQL SECURITY INVOKER
RETURN IF(JSON_TYPE(JSON_EXTRACT(p_doc, p_path)) = 'STRING',
    UNHEX(JSON_UNQUOTE(JSON_EXTRACT(p_doc, p_path))), NULL) $$

-- The bounded take of one key, as `CounterStore::take_counter` says; p_end is the end of a
-- window that starts now. The record is locked first (an absent key gets a placeholder that
-- is already expired, so concurrent first takes queue on its row lock instead of deadlocking
-- on a gap lock), then decided on, then written only if taken.
CREATE PROCEDURE {n}take_one(IN p_now BIGINT, IN p_key VARBINARY(1024), IN p_end BIGINT,
    IN p_limit BIGINT, OUT o_taken BOOLEAN, OUT o_window_start BIGINT,
    OUT o_window_end BIGINT, OUT o_count BIGINT, OUT o_consecutive BIGINT,
    OUT o_locked_until BIGINT)
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
BEGIN
    INSERT INTO {p}counters
        (counter_key, window_start, window_end, count, consecutive, locked_until)
        VALUES (p_key, p_now, p_now, 0, 0, NULL)
        ON DUPLICATE KEY UPDATE counter_key = counter_key;
    SELECT window_start, window_end, count, consecutive, locked_until
        INTO o_window_start, o_window_end, o_count, o_consecutive, o_locked_until
        FROM {p}counters WHERE counter_key = p_key FOR UPDATE;
    SET o_taken = TRUE;
    IF p_now >= GREATEST(o_window_end, COALESCE(o_locked_until, o_window_end)) THEN
        -- Absent or expired: a new record.
        SET o_window_start = p_now, o_window_end = p_end, o_count = 1, o_consecutive = 1,
            o_locked_until = NULL;
    ELSEIF o_locked_until IS NOT NULL AND p_now < o_locked_until THEN
        SET o_taken = FALSE;
    ELSEIF p_now >= o_window_end THEN
        -- The window ended but the record is retained: a new window, the lock kept.
        SET o_window_start = p_now, o_window_end = p_end, o_count = 1,
            o_consecutive = o_consecutive + 1;
    ELSEIF o_count < p_limit THEN
        SET o_count = o_count + 1, o_consecutive = o_consecutive + 1;
    ELSE
        SET o_taken = FALSE;
    END IF;
    IF o_taken THEN
        UPDATE {p}counters
            SET window_start = o_window_start, window_end = o_window_end, count = o_count,
                consecutive = o_consecutive, locked_until = o_locked_until
            WHERE counter_key = p_key;
    END IF;
END $$

-- The takes of p_takes ([[hex key, window ms, limit], ..]) in order, one result row each
-- ('t', i, taken, window_start, window_end, count, consecutive, locked_until), stopping after
-- the first refusal; o_all: whether every take counted.
CREATE PROCEDURE {n}take_each(IN p_now BIGINT, IN p_takes LONGTEXT, OUT o_all BOOLEAN)
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
BEGIN
    DECLARE i, n, w, w_end BIGINT DEFAULT 0;
    DECLARE k VARBINARY(1024);
    DECLARE taken BOOLEAN;
    DECLARE ws, we, cnt, cons, lck BIGINT;
    SET o_all = TRUE, n = COALESCE(JSON_LENGTH(p_takes), 0);
    takes: WHILE i < n DO
        SET k = {n}unhex_at(p_takes, CONCAT('$[', i, '][0]'));
        SET w = CAST(JSON_EXTRACT(p_takes, CONCAT('$[', i, '][1]')) AS SIGNED);
        -- The window's end, saturating instead of overflowing.
        IF p_now > 0 AND w > 9223372036854775807 - p_now THEN
            SET w_end = 9223372036854775807;
        ELSE
            SET w_end = p_now + w;
        END IF;
        CALL {n}take_one(p_now, k, w_end,
            CAST(JSON_EXTRACT(p_takes, CONCAT('$[', i, '][2]')) AS SIGNED),
            taken, ws, we, cnt, cons, lck);
        SELECT 't' AS part, i, taken, ws, we, cnt, cons, lck;
        IF NOT taken THEN
            SET o_all = FALSE;
            LEAVE takes;
        END IF;
        SET i = i + 1;
    END WHILE;
END $$

-- `CounterStore::take_counters`: take_each in one transaction.
CREATE PROCEDURE {n}take_list(IN p_now BIGINT, IN p_takes LONGTEXT)
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
BEGIN
    DECLARE every_one BOOLEAN;
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        ROLLBACK;
        RESIGNAL;
    END;
    START TRANSACTION;
    CALL {n}take_each(p_now, p_takes, every_one);
    COMMIT;
END $$

-- The lock of one key: an empty window at now, the consecutive failures of a live record kept
-- (0 if it is absent or expired), a lock only ever extended.
CREATE PROCEDURE {n}lock_one(IN p_key VARBINARY(1024), IN p_until BIGINT, IN p_now BIGINT,
    OUT o_consecutive BIGINT, OUT o_locked_until BIGINT)
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
BEGIN
    DECLARE we, lck BIGINT;
    INSERT INTO {p}counters
        (counter_key, window_start, window_end, count, consecutive, locked_until)
        VALUES (p_key, p_now, p_now, 0, 0, NULL)
        ON DUPLICATE KEY UPDATE counter_key = counter_key;
    SELECT window_end, consecutive, locked_until INTO we, o_consecutive, lck
        FROM {p}counters WHERE counter_key = p_key FOR UPDATE;
    IF p_now >= GREATEST(we, COALESCE(lck, we)) THEN
        SET o_consecutive = 0, lck = NULL;
    END IF;
    SET o_locked_until = GREATEST(COALESCE(lck, p_until), p_until);
    UPDATE {p}counters
        SET window_start = p_now, window_end = p_now, count = 0,
            consecutive = o_consecutive, locked_until = o_locked_until
        WHERE counter_key = p_key;
END $$

-- `CounterStore::lock_counter`: lock_one in one transaction, then the state after it.
CREATE PROCEDURE {n}lock_counter(IN p_key VARBINARY(1024), IN p_until BIGINT, IN p_now BIGINT)
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
BEGIN
    DECLARE cons, lck BIGINT;
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        ROLLBACK;
        RESIGNAL;
    END;
    START TRANSACTION;
    CALL {n}lock_one(p_key, p_until, p_now, cons, lck);
    COMMIT;
    SELECT p_now AS window_start, p_now AS window_end, 0 AS count, cons, lck;
END $$

-- Stores a challenge as `ChallengeStore::create_challenge` says. `ON DUPLICATE KEY UPDATE`
-- fires on a duplicate of any unique key: on (user_id, purpose), or on the id of this user's
-- row, it replaces the row; on the id of another user's row every assignment keeps the old
-- value (the guard reads only user_id, which no assignment changes: MySQL assigns left to
-- right), and the check after it signals the conflict as a duplicate key (1062).
CREATE PROCEDURE {n}put_challenge(IN p_id VARBINARY(255), IN p_user VARBINARY(255),
    IN p_purpose VARBINARY(255), IN p_kind VARCHAR(32) CHARACTER SET utf8mb4,
    IN p_code_digest VARBINARY(64), IN p_link_digest VARBINARY(64),
    IN p_binding_digest VARBINARY(64), IN p_created_at BIGINT, IN p_expires_at BIGINT,
    IN p_attempts_left BIGINT, IN p_consumed BOOLEAN, IN p_plan TEXT CHARACTER SET utf8mb4,
    IN p_plan_takes TEXT CHARACTER SET utf8mb4)
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
BEGIN
    INSERT INTO {p}challenges (id, user_id, purpose, kind, code_digest, link_digest,
            binding_digest, created_at, expires_at, attempts_left, consumed, plan, plan_takes)
        VALUES (p_id, p_user, p_purpose, p_kind, p_code_digest, p_link_digest,
            p_binding_digest, p_created_at, p_expires_at, p_attempts_left, p_consumed, p_plan,
            p_plan_takes)
        ON DUPLICATE KEY UPDATE
            id = IF(user_id = VALUES(user_id), VALUES(id), id),
            purpose = IF(user_id = VALUES(user_id), VALUES(purpose), purpose),
            kind = IF(user_id = VALUES(user_id), VALUES(kind), kind),
            code_digest = IF(user_id = VALUES(user_id), VALUES(code_digest), code_digest),
            link_digest = IF(user_id = VALUES(user_id), VALUES(link_digest), link_digest),
            binding_digest = IF(user_id = VALUES(user_id), VALUES(binding_digest),
                binding_digest),
            created_at = IF(user_id = VALUES(user_id), VALUES(created_at), created_at),
            expires_at = IF(user_id = VALUES(user_id), VALUES(expires_at), expires_at),
            attempts_left = IF(user_id = VALUES(user_id), VALUES(attempts_left),
                attempts_left),
            consumed = IF(user_id = VALUES(user_id), VALUES(consumed), consumed),
            plan = IF(user_id = VALUES(user_id), VALUES(plan), plan),
            plan_takes = IF(user_id = VALUES(user_id), VALUES(plan_takes), plan_takes);
    IF NOT EXISTS (SELECT 1 FROM {p}challenges WHERE id = p_id AND user_id = p_user) THEN
        SIGNAL SQLSTATE '23000' SET MYSQL_ERRNO = 1062, MESSAGE_TEXT = 'challenge id taken';
    END IF;
END $$

-- `ChallengeStore::create_challenge`: put_challenge in one transaction.
CREATE PROCEDURE {n}create_challenge(IN p_id VARBINARY(255), IN p_user VARBINARY(255),
    IN p_purpose VARBINARY(255), IN p_kind VARCHAR(32) CHARACTER SET utf8mb4,
    IN p_code_digest VARBINARY(64), IN p_link_digest VARBINARY(64),
    IN p_binding_digest VARBINARY(64), IN p_created_at BIGINT, IN p_expires_at BIGINT,
    IN p_attempts_left BIGINT, IN p_consumed BOOLEAN, IN p_plan TEXT CHARACTER SET utf8mb4,
    IN p_plan_takes TEXT CHARACTER SET utf8mb4)
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
BEGIN
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        ROLLBACK;
        RESIGNAL;
    END;
    START TRANSACTION;
    CALL {n}put_challenge(p_id, p_user, p_purpose, p_kind, p_code_digest, p_link_digest,
        p_binding_digest, p_created_at, p_expires_at, p_attempts_left, p_consumed, p_plan,
        p_plan_takes);
    COMMIT;
END $$

-- Appends audit records: [[at, hex user, hex kind, hex outcome, hex ip | null,
-- hex user agent | null, hex actor | null], ..], in order (so `seq` follows it).
CREATE PROCEDURE {n}append_audits(IN p_events LONGTEXT)
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
BEGIN
    DECLARE i, n BIGINT DEFAULT 0;
    SET n = COALESCE(JSON_LENGTH(p_events), 0);
    WHILE i < n DO
        INSERT INTO {p}audit_events (at, user_id, kind, outcome, ip, user_agent, actor)
            VALUES (CAST(JSON_EXTRACT(p_events, CONCAT('$[', i, '][0]')) AS SIGNED),
                {n}unhex_at(p_events, CONCAT('$[', i, '][1]')),
                CONVERT({n}unhex_at(p_events, CONCAT('$[', i, '][2]')) USING utf8mb4),
                CONVERT({n}unhex_at(p_events, CONCAT('$[', i, '][3]')) USING utf8mb4),
                CONVERT({n}unhex_at(p_events, CONCAT('$[', i, '][4]')) USING utf8mb4),
                CONVERT({n}unhex_at(p_events, CONCAT('$[', i, '][5]')) USING utf8mb4),
                CONVERT({n}unhex_at(p_events, CONCAT('$[', i, '][6]')) USING utf8mb4));
        SET i = i + 1;
    END WHILE;
END $$

-- `FlowStore::open_ticket`: the take of the budget (p_key, p_end, p_limit) and, only if it
-- counted, the ticket (as create_challenge) and its audit records (as append_audits), in one
-- transaction; then one row: taken and the budget's state.
CREATE PROCEDURE {n}open_ticket(IN p_now BIGINT, IN p_key VARBINARY(1024), IN p_end BIGINT,
    IN p_limit BIGINT, IN p_id VARBINARY(255), IN p_user VARBINARY(255),
    IN p_purpose VARBINARY(255), IN p_kind VARCHAR(32) CHARACTER SET utf8mb4,
    IN p_code_digest VARBINARY(64), IN p_link_digest VARBINARY(64),
    IN p_binding_digest VARBINARY(64), IN p_created_at BIGINT, IN p_expires_at BIGINT,
    IN p_attempts_left BIGINT, IN p_consumed BOOLEAN, IN p_plan TEXT CHARACTER SET utf8mb4,
    IN p_plan_takes TEXT CHARACTER SET utf8mb4, IN p_audit LONGTEXT)
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
BEGIN
    DECLARE taken BOOLEAN;
    DECLARE ws, we, cnt, cons, lck BIGINT;
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        ROLLBACK;
        RESIGNAL;
    END;
    START TRANSACTION;
    CALL {n}take_one(p_now, p_key, p_end, p_limit, taken, ws, we, cnt, cons, lck);
    IF taken THEN
        CALL {n}put_challenge(p_id, p_user, p_purpose, p_kind, p_code_digest, p_link_digest,
            p_binding_digest, p_created_at, p_expires_at, p_attempts_left, p_consumed,
            p_plan, p_plan_takes);
        CALL {n}append_audits(p_audit);
    END IF;
    COMMIT;
    SELECT taken, ws, we, cnt, cons, lck;
END $$

-- `FlowStore::attempt`, in one transaction. Spends a try of live challenge p_id; if spent,
-- returns it ('c', its columns, recognised), takes its plan's list for p_tag (hex, or NULL)
-- with take_each ('t' rows), and, if p_factors and every take counted, returns the user's
-- TOTP factors ('f' rows). If no try was spent, returns what names the refusal ('r',
-- expires_at, consumed, attempts_left), or nothing for an unknown id.
CREATE PROCEDURE {n}attempt(IN p_id VARBINARY(255), IN p_now BIGINT, IN p_tag LONGTEXT,
    IN p_factors BOOLEAN)
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
BEGIN
    DECLARE v_user VARBINARY(255);
    DECLARE v_plan LONGTEXT;
    DECLARE v_recognised BOOLEAN DEFAULT FALSE;
    DECLARE v_all BOOLEAN DEFAULT TRUE;
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        ROLLBACK;
        RESIGNAL;
    END;
    START TRANSACTION;
    UPDATE {p}challenges SET attempts_left = attempts_left - 1
        WHERE id = p_id AND NOT consumed AND expires_at > p_now AND attempts_left > 0;
    IF ROW_COUNT() = 1 THEN
        SELECT user_id, plan_takes INTO v_user, v_plan FROM {p}challenges WHERE id = p_id;
        -- Compared as bytes: no collation can make two tags equal.
        SET v_recognised = COALESCE({n}unhex_at(v_plan, '$.tag') = UNHEX(p_tag), FALSE);
        SELECT 'c' AS part, CONVERT(id USING utf8mb4), CONVERT(user_id USING utf8mb4),
                CONVERT(purpose USING utf8mb4), kind, code_digest, link_digest,
                binding_digest, created_at, expires_at, attempts_left, consumed, plan,
                v_recognised
            FROM {p}challenges WHERE id = p_id;
        IF v_plan IS NOT NULL THEN
            CALL {n}take_each(p_now, JSON_EXTRACT(v_plan, IF(v_recognised, '$.r', '$.u')),
                v_all);
        END IF;
        IF p_factors AND v_all THEN
            SELECT 'f' AS part, CONVERT(user_id USING utf8mb4), CONVERT(id USING utf8mb4),
                    sealed_secret, algorithm, digits, period, label, status, last_used_step,
                    created_at, confirmed_at
                FROM {p}totp_factors WHERE user_id = v_user ORDER BY created_at, id;
        END IF;
    ELSE
        SELECT 'r' AS part, expires_at, consumed, attempts_left
            FROM {p}challenges WHERE id = p_id;
    END IF;
    COMMIT;
END $$

-- `FlowStore::settle`, all or nothing, in one transaction. p_settlement: {"user": hex,
-- "advance": [hex factor, step] | null, "consume": [hex id, ..], "resets": [hex key, ..],
-- "refunds": [hex key, ..], "locks": [[hex key, until], ..], "audit": [event, ..] (as
-- append_audits)}. The conditions first, each a conditional write on the row it locks (so of
-- concurrent settlements of one step or one challenge exactly one holds); the first that
-- changes no row rolls everything back and answers held = FALSE. Then the counters, in the
-- order the provided `settle` applies them, and the audit records; held = TRUE.
CREATE PROCEDURE {n}settle(IN p_now BIGINT, IN p_settlement LONGTEXT)
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
BEGIN
    DECLARE i, n, step BIGINT DEFAULT 0;
    DECLARE cons, lck BIGINT;
    DECLARE v_user VARBINARY(255) DEFAULT {n}unhex_at(p_settlement, '$.user');
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        ROLLBACK;
        RESIGNAL;
    END;
    START TRANSACTION;
    settlement: BEGIN
        IF JSON_TYPE(JSON_EXTRACT(p_settlement, '$.advance')) = 'ARRAY' THEN
            SET step = CAST(JSON_EXTRACT(p_settlement, '$.advance[1]') AS SIGNED);
            UPDATE {p}totp_factors SET last_used_step = step
                WHERE user_id = v_user AND id = {n}unhex_at(p_settlement, '$.advance[0]')
                    AND status = 'confirmed'
                    AND (last_used_step IS NULL OR last_used_step < step);
            IF ROW_COUNT() <> 1 THEN
                ROLLBACK;
                SELECT FALSE AS held;
                LEAVE settlement;
            END IF;
        END IF;
        SET i = 0, n = COALESCE(JSON_LENGTH(p_settlement, '$.consume'), 0);
        WHILE i < n DO
            UPDATE {p}challenges SET consumed = TRUE
                WHERE id = {n}unhex_at(p_settlement, CONCAT('$.consume[', i, ']'))
                    AND user_id = v_user AND NOT consumed AND expires_at > p_now;
            IF ROW_COUNT() <> 1 THEN
                ROLLBACK;
                SELECT FALSE AS held;
                LEAVE settlement;
            END IF;
            SET i = i + 1;
        END WHILE;
        SET i = 0, n = COALESCE(JSON_LENGTH(p_settlement, '$.resets'), 0);
        WHILE i < n DO
            DELETE FROM {p}counters
                WHERE counter_key = {n}unhex_at(p_settlement, CONCAT('$.resets[', i, ']'));
            SET i = i + 1;
        END WHILE;
        SET i = 0, n = COALESCE(JSON_LENGTH(p_settlement, '$.refunds'), 0);
        WHILE i < n DO
            UPDATE {p}counters SET count = count - 1
                WHERE counter_key = {n}unhex_at(p_settlement, CONCAT('$.refunds[', i, ']'))
                    AND count > 0 AND window_end > p_now;
            SET i = i + 1;
        END WHILE;
        SET i = 0, n = COALESCE(JSON_LENGTH(p_settlement, '$.locks'), 0);
        WHILE i < n DO
            CALL {n}lock_one({n}unhex_at(p_settlement, CONCAT('$.locks[', i, '][0]')),
                CAST(JSON_EXTRACT(p_settlement, CONCAT('$.locks[', i, '][1]')) AS SIGNED),
                p_now, cons, lck);
            SET i = i + 1;
        END WHILE;
        CALL {n}append_audits(JSON_EXTRACT(p_settlement, '$.audit'));
        COMMIT;
        SELECT TRUE AS held;
    END settlement;
END $$

DELIMITER ;
