-- take_counter / take_counters: bounded hits, in order, stopping at the first refusal.
-- KEYS[2i - 1] the data-loss marker of take i's slot, KEYS[2i] its counter hash.
-- ARGV[1] now (ms); ARGV[2i] the window end of take i if a window starts, ARGV[2i + 1] its limit.
-- Returns { {status, window_start, window_end, count, consecutive, locked_until or ''}, ... },
-- status 'taken' or 'refused'; after a refusal nothing more is taken or returned.
local MAX = 4294967295
local now = tonumber(ARGV[1])
local out = {}
-- Every marker is checked before anything is written: an error after a write would leave it.
for i = 1, #KEYS / 2 do
  check_marker(KEYS[2 * i - 1])
end
for i = 1, #KEYS / 2 do
  local key = KEYS[2 * i]
  local limit = tonumber(ARGV[2 * i + 1])
  local c = redis.call('HMGET', key, 'ws', 'we', 'count', 'consec', 'lock')
  local live = false
  if c[2] then
    local retained = tonumber(c[2])
    if c[5] and tonumber(c[5]) > retained then
      retained = tonumber(c[5])
    end
    live = now < retained
  end
  local ws, we, count, consec, lock
  if not live then
    ws, we, lock = ARGV[1], ARGV[2 * i], false
    count, consec = 1, 1
  elseif c[5] and now < tonumber(c[5]) then
    out[#out + 1] = {'refused', c[1], c[2], c[3], c[4], c[5]}
    return out
  elseif now >= tonumber(c[2]) then
    -- The window ended; only a lock (now over) kept the record: new window, failures and lock kept.
    ws, we, lock = ARGV[1], ARGV[2 * i], c[5]
    count = 1
    consec = math.min(tonumber(c[4]) + 1, MAX)
  elseif tonumber(c[3]) < limit then
    ws, we, lock = c[1], c[2], c[5]
    count = tonumber(c[3]) + 1
    consec = math.min(tonumber(c[4]) + 1, MAX)
  else
    out[#out + 1] = {'refused', c[1], c[2], c[3], c[4], c[5] or ''}
    return out
  end
  redis.call('DEL', key)
  redis.call('HSET', key, 'ws', ws, 'we', we, 'count', tostring(count), 'consec', tostring(consec))
  local retained = we
  if lock then
    redis.call('HSET', key, 'lock', lock)
    if tonumber(lock) > tonumber(we) then
      retained = lock
    end
  end
  redis.call('PEXPIREAT', key, retained)
  out[#out + 1] = {'taken', ws, we, tostring(count), tostring(consec), lock or ''}
end
return out
