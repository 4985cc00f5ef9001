-- mfa-store-sql, version 5, PostgreSQL only: the same operations as version 3's functions, in
-- fewer executed statements. Measured (docs/performance.md): of a login's server CPU, a sixth
-- went to running `unhex` and `window_end` as queries of their own, and most of the rest to
-- starting and finishing the executor of each statement a function runs, whatever it does.
--
-- - `unhex` and `window_end` become inlinable: PostgreSQL inlines a SQL function into the
--   statement that calls it only if an IMMUTABLE function's body is immutable (`convert_from`
--   is STABLE, so `unhex` is declared STABLE) and a STRICT function's body is strict (a CASE is
--   not, so `window_end` is no longer STRICT: it answers NULL for a NULL argument all the same).
-- - `settle_lists` replaces `settle`: its lists arrive as typed arrays (no JSON, no hex), each
--   list is one set-based statement, and a refused settlement raises SQLSTATE MF001 out of
--   the statement, which rolls the statement back whole, instead of opening a subtransaction
--   in every settlement to undo the refused ones. Version 3's `settle` (and `append_audits`)
--   stay, unused by this version, so that instances of the previous version keep working
--   during a rolling upgrade; `unhex` and `window_end` answer as they did. The take's and the
--   lock's upserts stay in `take_one` and `lock_one` alone, which `take_list`, `open_ticket`,
--   `lock_counter` and `settle_lists` all call: one copy of each rule to review.
-- - `settle_lists` plans its statements generically (`plan_cache_mode`): PostgreSQL otherwise
--   plans a statement again on every call whenever it cannot tell a generic plan is no worse
--   (its arrays' lengths are unknown).

DELIMITER //

CREATE OR REPLACE FUNCTION {p}unhex(p_hex TEXT) RETURNS TEXT
LANGUAGE sql STABLE STRICT AS $fn$
    SELECT convert_from(decode(p_hex, 'hex'), 'UTF8')
$fn$ //

CREATE OR REPLACE FUNCTION {p}window_end(p_now BIGINT, p_window BIGINT) RETURNS BIGINT
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE WHEN p_now > 0 AND p_window > 9223372036854775807 - p_now
        THEN 9223372036854775807 ELSE p_now + p_window END
$fn$ //

-- `FlowStore::settle`, all or nothing, for p_user. p_factor/p_step: the TOTP step to advance
-- (both NULL: none). p_consume: challenge ids (distinct: the settlement's rules). p_resets:
-- counter keys to delete. p_refund_keys/p_refund_units: distinct keys and how many units each
-- gets back (the settlement's refunds counted per key). p_lock_keys/p_lock_until: locks, in
-- order. p_at .. p_actor: the audit records' columns, one element per record, in order.
--
-- The conditions come first, each a conditional write re-checked on the latest row after
-- waiting for its lock (so of concurrent settlements of one step or one challenge exactly one
-- holds); a condition that fails raises MF001, which ends the statement and rolls back
-- everything it wrote (the caller answers "refused"). Then, each statement seeing the ones
-- before, as the provided `settle` applies them: resets, refunds (n refunds of a key are n
-- single ones: never below zero, only in a live window), locks (`lock_one`, in order), the
-- audit records (in order, so `seq` follows it).
CREATE OR REPLACE FUNCTION {p}settle_lists(p_now BIGINT, p_user TEXT, p_factor TEXT,
    p_step BIGINT, p_consume TEXT[], p_resets TEXT[], p_refund_keys TEXT[],
    p_refund_units BIGINT[], p_lock_keys TEXT[], p_lock_until BIGINT[], p_at BIGINT[],
    p_kind TEXT[], p_outcome TEXT[], p_ip TEXT[], p_agent TEXT[], p_actor TEXT[])
RETURNS VOID
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    v_done BIGINT;
BEGIN
    IF p_factor IS NOT NULL THEN
        UPDATE {p}totp_factors SET last_used_step = p_step
        WHERE user_id = p_user AND id = p_factor AND status = 'confirmed'
            AND (last_used_step IS NULL OR last_used_step < p_step);
        IF NOT FOUND THEN
            RAISE EXCEPTION 'settlement refused' USING ERRCODE = 'MF001';
        END IF;
    END IF;
    IF cardinality(p_consume) > 0 THEN
        UPDATE {p}challenges SET consumed = TRUE
        WHERE id = ANY (p_consume) AND user_id = p_user AND NOT consumed
            AND expires_at > p_now;
        GET DIAGNOSTICS v_done = ROW_COUNT;
        IF v_done <> cardinality(p_consume) THEN
            RAISE EXCEPTION 'settlement refused' USING ERRCODE = 'MF001';
        END IF;
    END IF;
    IF cardinality(p_resets) > 0 THEN
        DELETE FROM {p}counters WHERE counter_key = ANY (p_resets);
    END IF;
    IF cardinality(p_refund_keys) > 0 THEN
        UPDATE {p}counters
        SET count = GREATEST(count - p_refund_units[array_position(p_refund_keys, counter_key)], 0)
        WHERE counter_key = ANY (p_refund_keys) AND count > 0 AND window_end > p_now;
    END IF;
    FOR v_i IN 1 .. COALESCE(cardinality(p_lock_keys), 0) LOOP
        PERFORM {p}lock_one(p_lock_keys[v_i], p_lock_until[v_i], p_now);
    END LOOP;
    IF cardinality(p_at) > 0 THEN
        INSERT INTO {p}audit_events (at, user_id, kind, outcome, ip, user_agent, actor)
        SELECT e.at, p_user, e.kind, e.outcome, e.ip, e.agent, e.actor
        FROM unnest(p_at, p_kind, p_outcome, p_ip, p_agent, p_actor)
            WITH ORDINALITY AS e (at, kind, outcome, ip, agent, actor, i)
        ORDER BY e.i;
    END IF;
END
$fn$ //

DELIMITER ;
