-- Library: counters. A counter is a hash {ws, we, count, consec, lock} (times in ms) whose
-- record is live while its window or its lock runs.

local MAX_COUNT = 4294967295

-- The counter's fields {ws, we, count, consec, lock}, and whether its record is live at `now`.
local function counter_fields(key, now)
  local c = redis.call('HMGET', key, 'ws', 'we', 'count', 'consec', 'lock')
  local live = false
  if c[2] then
    local retained = tonumber(c[2])
    if c[5] and tonumber(c[5]) > retained then
      retained = tonumber(c[5])
    end
    live = now < retained
  end
  return c, live
end

-- The live state {window_start, window_end, count, consecutive, locked_until or ''}, or {}.
local function counter_state(key, now)
  local c, live = counter_fields(key, now)
  if not live then
    return {}
  end
  return {c[1], c[2], c[3], c[4], c[5] or ''}
end

-- One bounded hit: absent or expired -> a new window with count 1; locked -> refused,
-- unchanged; window ended (a lock kept the record) -> a new window, failures and lock kept;
-- count < limit -> count + 1; else refused, unchanged. `now_ms` and `window_end` are decimal
-- milliseconds (the end of a window that starts now), `limit` a number.
-- Returns {'taken' | 'refused', window_start, window_end, count, consecutive, locked_until or ''}.
local function counter_take(key, now_ms, window_end, limit)
  local now = tonumber(now_ms)
  local c, live = counter_fields(key, now)
  local ws, we, count, consec, lock
  local same_window = false
  if not live then
    ws, we, lock = now_ms, window_end, false
    count, consec = 1, 1
  elseif c[5] and now < tonumber(c[5]) then
    return {'refused', c[1], c[2], c[3], c[4], c[5]}
  elseif now >= tonumber(c[2]) then
    ws, we, lock = now_ms, window_end, c[5]
    count = 1
    consec = math.min(tonumber(c[4]) + 1, MAX_COUNT)
  elseif tonumber(c[3]) < limit then
    ws, we, lock = c[1], c[2], c[5]
    same_window = true
    count = tonumber(c[3]) + 1
    consec = math.min(tonumber(c[4]) + 1, MAX_COUNT)
  else
    return {'refused', c[1], c[2], c[3], c[4], c[5] or ''}
  end
  -- The hash holds only these five fields, so writing four of them replaces the record; the
  -- lock is either kept as it is or, for a new record, dropped.
  if c[5] and not lock then
    redis.call('HDEL', key, 'lock')
  end
  if same_window then
    -- Same window, same lock: the record's expiry stands.
    redis.call('HSET', key, 'count', tostring(count), 'consec', tostring(consec))
  else
    redis.call('HSET', key, 'ws', ws, 'we', we, 'count', tostring(count), 'consec', tostring(consec))
    local retained = we
    if lock and tonumber(lock) > tonumber(we) then
      retained = lock
    end
    redis.call('PEXPIREAT', key, retained)
  end
  return {'taken', ws, we, tostring(count), tostring(consec), lock or ''}
end

-- Gives back one event of the current window: only while the record is live, its window runs
-- and its count is above 0. Returns 1 if it did.
local function counter_refund(key, now)
  local c, live = counter_fields(key, now)
  if not live or now >= tonumber(c[2]) or tonumber(c[3]) <= 0 then
    return 0
  end
  redis.call('HINCRBY', key, 'count', -1)
  return 1
end

-- Locks until `until_ms`, only ever extending, and starts an empty window at `now_ms` (count 0;
-- consecutive failures kept while the record is live). Returns the state as counter_state.
local function counter_lock(key, now_ms, until_ms)
  local now = tonumber(now_ms)
  local c, live = counter_fields(key, now)
  local consec, lock = '0', until_ms
  if live then
    consec = c[4]
    if c[5] and tonumber(c[5]) > tonumber(until_ms) then
      lock = c[5]
    end
  end
  -- All five fields written: the record is replaced whole.
  redis.call('HSET', key, 'ws', now_ms, 'we', now_ms, 'count', '0', 'consec', consec, 'lock', lock)
  redis.call('PEXPIREAT', key, math.max(tonumber(lock), now))
  return {now_ms, now_ms, '0', consec, lock}
end
