-- mfa-store-sql, version 2, MySQL/MariaDB only: `{n}take_counters`, the bounded take of a whole
-- batch of counters in one round trip. MySQL has no RETURNING, so "count unless full, and say
-- what you did" needs a transaction; in a routine it is one CALL instead of BEGIN, write, read
-- and COMMIT.
--
-- p_now: now, in ms. p_takes: a JSON array of [hex(counter key), window end in ms, limit], in the
-- caller's order. For each take: lock the record (an absent key gets a placeholder that is
-- already expired, so concurrent first takes queue on its row lock instead of deadlocking on a
-- gap lock), decide as `CounterStore::take_counter` says, write only if taken, and return one
-- row (i, taken, window_start, window_end, count, consecutive, locked_until); stop after the
-- first refusal. Any error rolls the whole batch back and reaches the caller, which retries a
-- deadlock victim. SQL SECURITY INVOKER: the routine can do nothing its caller could not.

DROP PROCEDURE IF EXISTS {n}take_counters;

DELIMITER $$
CREATE PROCEDURE {n}take_counters(IN p_now BIGINT, IN p_takes LONGTEXT)
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
BEGIN
    DECLARE i, n, taken BIGINT DEFAULT 0;
    DECLARE k VARBINARY(1024);
    DECLARE w_end, lim, ws, we, cnt, cons, lck BIGINT;
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        ROLLBACK;
        RESIGNAL;
    END;
    SET n = JSON_LENGTH(p_takes);
    START TRANSACTION;
    takes: WHILE i < n DO
        SET k = UNHEX(JSON_UNQUOTE(JSON_EXTRACT(p_takes, CONCAT('$[', i, '][0]'))));
        SET w_end = CAST(JSON_EXTRACT(p_takes, CONCAT('$[', i, '][1]')) AS SIGNED);
        SET lim = CAST(JSON_EXTRACT(p_takes, CONCAT('$[', i, '][2]')) AS SIGNED);
        INSERT INTO {p}counters
            (counter_key, window_start, window_end, count, consecutive, locked_until)
            VALUES (k, p_now, p_now, 0, 0, NULL)
            ON DUPLICATE KEY UPDATE counter_key = counter_key;
        SELECT window_start, window_end, count, consecutive, locked_until
            INTO ws, we, cnt, cons, lck
            FROM {p}counters WHERE counter_key = k FOR UPDATE;
        SET taken = 1;
        IF p_now >= GREATEST(we, COALESCE(lck, we)) THEN
            -- Absent or expired: a new record.
            SET ws = p_now, we = w_end, cnt = 1, cons = 1, lck = NULL;
        ELSEIF lck IS NOT NULL AND p_now < lck THEN
            SET taken = 0;
        ELSEIF p_now >= we THEN
            -- The window ended but the record is retained: a new window, the lock kept.
            SET ws = p_now, we = w_end, cnt = 1, cons = cons + 1;
        ELSEIF cnt < lim THEN
            SET cnt = cnt + 1, cons = cons + 1;
        ELSE
            SET taken = 0;
        END IF;
        IF taken = 1 THEN
            UPDATE {p}counters
                SET window_start = ws, window_end = we, count = cnt, consecutive = cons,
                    locked_until = lck
                WHERE counter_key = k;
        END IF;
        SELECT i, taken, ws, we, cnt, cons, lck;
        IF taken = 0 THEN
            LEAVE takes;
        END IF;
        SET i = i + 1;
    END WHILE;
    COMMIT;
END $$
DELIMITER ;
