-- hit_counter / hit_counters: one hit on each key (all keys share one hash tag).
-- KEYS[i] counter hash. ARGV[1] now (ms), ARGV[1 + i] window end of KEYS[i] if a window starts.
-- Returns { {window_start, window_end, count, consecutive, locked_until or ''}, ... }.
local MAX = 4294967295
local now = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
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
  if live and now < tonumber(c[2]) then
    ws, we, lock = c[1], c[2], c[5]
    count = math.min(tonumber(c[3]) + 1, MAX)
    consec = math.min(tonumber(c[4]) + 1, MAX)
  elseif live then
    -- The window ended; only a lock kept the record: new window, failures and lock carried.
    ws, we, lock = ARGV[1], ARGV[i + 1], c[5]
    count = 1
    consec = math.min(tonumber(c[4]) + 1, MAX)
  else
    ws, we, lock = ARGV[1], ARGV[i + 1], false
    count, consec = 1, 1
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
  out[#out + 1] = {ws, we, tostring(count), tostring(consec), lock or ''}
end
return out
