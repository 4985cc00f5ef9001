-- mfa-store-sql, version 3, PostgreSQL only: the functions behind the counter takes and the
-- coarse operations of a login (`mfa_store::FlowStore`), so that each is one round trip.
--
-- A function is used only where one statement cannot do the work: a loop whose length the
-- data decides (a batch of takes, or a ticket's plan, stopping at the first refusal), each
-- take seeing the rows committed while it waited for a lock, and steps that must see each
-- other's writes or be undone together (a settlement). `open_ticket` and
-- `attempt` are single statements built in `postgres/flow.rs` around these functions. A
-- function runs inside its caller's statement: everything it did commits or rolls back with
-- that statement. Every statement in a function takes a snapshot of its own (READ COMMITTED),
-- so it sees rows committed while the function ran. Strings inside JSON arguments are hex of
-- their UTF-8 bytes (`routines.rs`). Functions live beside the tables ({p}: schema and prefix).

DELIMITER //

-- Text from the hex of its UTF-8 bytes; NULL stays NULL.
CREATE OR REPLACE FUNCTION {p}unhex(p_hex TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE STRICT AS $fn$
    SELECT convert_from(decode(p_hex, 'hex'), 'UTF8')
$fn$ //

-- The end of a window of p_window ms that starts at p_now, saturating instead of overflowing.
CREATE OR REPLACE FUNCTION {p}window_end(p_now BIGINT, p_window BIGINT) RETURNS BIGINT
LANGUAGE sql IMMUTABLE STRICT AS $fn$
    SELECT CASE WHEN p_now > 0 AND p_window > 9223372036854775807 - p_now
        THEN 9223372036854775807 ELSE p_now + p_window END
$fn$ //

-- The bounded take of one key, as `CounterStore::take_counter` says; p_end is the end of a
-- window that starts now. The upsert is the one SQLite runs (sqlite.rs), its condition
-- evaluated on the latest committed row. A refusal updates nothing but leaves the row locked
-- (as every ON CONFLICT DO UPDATE does), and the read after it, a statement with a snapshot
-- of its own, shows the row as it is.
CREATE OR REPLACE FUNCTION {p}take_one(p_now BIGINT, p_key TEXT, p_end BIGINT, p_limit BIGINT,
    OUT o_taken BOOLEAN, OUT o_window_start BIGINT, OUT o_window_end BIGINT,
    OUT o_count BIGINT, OUT o_consecutive BIGINT, OUT o_locked_until BIGINT)
LANGUAGE plpgsql AS $fn$
BEGIN
    -- excluded.window_start is now. Expired (now >= the retention end): a new record. Else
    -- locked: refused. Else the window ended: a new window, consecutive + 1. Else room left:
    -- count + 1. Else refused. Every SET reads the row as it was before the update.
    INSERT INTO {p}counters AS c (counter_key, window_start, window_end, count, consecutive)
    VALUES (p_key, p_now, p_end, 1, 1)
    ON CONFLICT (counter_key) DO UPDATE SET
        window_start = CASE WHEN excluded.window_start >= c.window_end
            THEN excluded.window_start ELSE c.window_start END,
        window_end = CASE WHEN excluded.window_start >= c.window_end
            THEN excluded.window_end ELSE c.window_end END,
        count = CASE WHEN excluded.window_start >= c.window_end THEN 1 ELSE c.count + 1 END,
        consecutive = CASE WHEN excluded.window_start >= c.expires_at
            THEN 1 ELSE c.consecutive + 1 END,
        locked_until = CASE WHEN excluded.window_start >= c.expires_at
            THEN NULL ELSE c.locked_until END
    WHERE excluded.window_start >= c.expires_at
        OR ((c.locked_until IS NULL OR c.locked_until <= excluded.window_start)
            AND (excluded.window_start >= c.window_end OR c.count < p_limit))
    RETURNING TRUE, c.window_start, c.window_end, c.count, c.consecutive, c.locked_until
    INTO o_taken, o_window_start, o_window_end, o_count, o_consecutive, o_locked_until;
    IF NOT FOUND THEN
        SELECT FALSE, c.window_start, c.window_end, c.count, c.consecutive, c.locked_until
        INTO o_taken, o_window_start, o_window_end, o_count, o_consecutive, o_locked_until
        FROM {p}counters AS c WHERE c.counter_key = p_key;
    END IF;
END
$fn$ //

-- The takes of `CounterStore::take_counters`, in order, stopping after the first refusal: one
-- row per take made. p_takes: [[hex key, window ms, limit], ..].
CREATE OR REPLACE FUNCTION {p}take_list(p_now BIGINT, p_takes JSONB)
RETURNS TABLE (o_i BIGINT, o_taken BOOLEAN, o_window_start BIGINT, o_window_end BIGINT,
    o_count BIGINT, o_consecutive BIGINT, o_locked_until BIGINT)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_take JSONB;
BEGIN
    FOR v_i IN 0 .. COALESCE(jsonb_array_length(p_takes), 0) - 1 LOOP
        v_take := p_takes -> v_i;
        o_i := v_i;
        SELECT * INTO o_taken, o_window_start, o_window_end, o_count, o_consecutive,
            o_locked_until
        FROM {p}take_one(p_now, {p}unhex(v_take ->> 0),
            {p}window_end(p_now, (v_take ->> 1)::BIGINT), (v_take ->> 2)::BIGINT);
        RETURN NEXT;
        EXIT WHEN NOT o_taken;
    END LOOP;
END
$fn$ //

-- `CounterStore::lock_counter`: an empty window at now, the consecutive failures of a live
-- record kept (0 if it expired), a lock only ever extended. One statement; the row lock
-- serialises racers.
CREATE OR REPLACE FUNCTION {p}lock_one(p_key TEXT, p_until BIGINT, p_now BIGINT,
    OUT o_window_start BIGINT, OUT o_window_end BIGINT, OUT o_count BIGINT,
    OUT o_consecutive BIGINT, OUT o_locked_until BIGINT)
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO {p}counters AS c (counter_key, window_start, window_end, count, consecutive,
        locked_until)
    VALUES (p_key, p_now, p_now, 0, 0, p_until)
    ON CONFLICT (counter_key) DO UPDATE SET
        window_start = excluded.window_start, window_end = excluded.window_end, count = 0,
        consecutive = CASE WHEN excluded.window_start >= c.expires_at
            THEN 0 ELSE c.consecutive END,
        locked_until = CASE WHEN excluded.window_start >= c.expires_at
            THEN excluded.locked_until
            ELSE GREATEST(COALESCE(c.locked_until, excluded.locked_until),
                excluded.locked_until) END
    RETURNING c.window_start, c.window_end, c.count, c.consecutive, c.locked_until
    INTO o_window_start, o_window_end, o_count, o_consecutive, o_locked_until;
END
$fn$ //

-- Appends audit records: [[at, hex user, hex kind, hex outcome, hex ip | null,
-- hex user agent | null, hex actor | null], ..], in order (so `seq` follows it).
CREATE OR REPLACE FUNCTION {p}append_audits(p_events JSONB) RETURNS VOID
LANGUAGE plpgsql AS $fn$
DECLARE
    v_event JSONB;
BEGIN
    FOR v_i IN 0 .. COALESCE(jsonb_array_length(p_events), 0) - 1 LOOP
        v_event := p_events -> v_i;
        INSERT INTO {p}audit_events (at, user_id, kind, outcome, ip, user_agent, actor)
        VALUES ((v_event ->> 0)::BIGINT, {p}unhex(v_event ->> 1), {p}unhex(v_event ->> 2),
            {p}unhex(v_event ->> 3), {p}unhex(v_event ->> 4), {p}unhex(v_event ->> 5),
            {p}unhex(v_event ->> 6));
    END LOOP;
END
$fn$ //

-- `FlowStore::settle`, all or nothing. p_settlement: {"user": hex, "advance": [hex factor,
-- step] | null, "consume": [hex id, ..], "resets": [hex key, ..], "refunds": [hex key, ..],
-- "locks": [[hex key, until], ..], "audit": [event, ..] (as append_audits)}.
--
-- The conditions run first, each one conditional write whose condition is re-checked on the
-- latest row after waiting for its lock (so of concurrent settlements of one step or one
-- challenge exactly one holds); the first that changes no row raises, which rolls back the
-- block (a savepoint), so a refused settlement changes nothing. Then the counters, in the
-- order the provided `settle` applies them (each statement sees the ones before), and the
-- audit records.
CREATE OR REPLACE FUNCTION {p}settle(p_now BIGINT, p_settlement JSONB) RETURNS BOOLEAN
LANGUAGE plpgsql AS $fn$
DECLARE
    v_user TEXT := {p}unhex(p_settlement ->> 'user');
    v_advance JSONB := p_settlement -> 'advance';
    v_text TEXT;
    v_lock JSONB;
BEGIN
    BEGIN
        IF jsonb_typeof(v_advance) = 'array' THEN
            UPDATE {p}totp_factors SET last_used_step = (v_advance ->> 1)::BIGINT
            WHERE user_id = v_user AND id = {p}unhex(v_advance ->> 0)
                AND status = 'confirmed'
                AND (last_used_step IS NULL OR last_used_step < (v_advance ->> 1)::BIGINT);
            IF NOT FOUND THEN
                RAISE EXCEPTION 'settlement refused';
            END IF;
        END IF;
        FOR v_text IN SELECT jsonb_array_elements_text(p_settlement -> 'consume') LOOP
            UPDATE {p}challenges SET consumed = TRUE
            WHERE id = {p}unhex(v_text) AND user_id = v_user AND NOT consumed
                AND expires_at > p_now;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'settlement refused';
            END IF;
        END LOOP;
    EXCEPTION WHEN raise_exception THEN
        RETURN FALSE;
    END;
    FOR v_text IN SELECT jsonb_array_elements_text(p_settlement -> 'resets') LOOP
        DELETE FROM {p}counters WHERE counter_key = {p}unhex(v_text);
    END LOOP;
    FOR v_text IN SELECT jsonb_array_elements_text(p_settlement -> 'refunds') LOOP
        UPDATE {p}counters SET count = count - 1
        WHERE counter_key = {p}unhex(v_text) AND count > 0 AND window_end > p_now;
    END LOOP;
    FOR v_lock IN SELECT jsonb_array_elements(p_settlement -> 'locks') LOOP
        PERFORM {p}lock_one({p}unhex(v_lock ->> 0), (v_lock ->> 1)::BIGINT, p_now);
    END LOOP;
    PERFORM {p}append_audits(p_settlement -> 'audit');
    RETURN TRUE;
END
$fn$ //

DELIMITER ;
