-- lock_counter: lock until ARGV[2] (ms), only ever extending. KEYS[1] counter hash.
-- ARGV[1] now (ms). Returns the state as in counter_hit.
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'ws', 'we', 'count', 'consec', 'lock')
local live = false
if c[2] then
  local retained = tonumber(c[2])
  if c[5] and tonumber(c[5]) > retained then
    retained = tonumber(c[5])
  end
  live = now < retained
end
local ws, we, count, consec, lock
if live then
  ws, we, count, consec, lock = c[1], c[2], c[3], c[4], c[5]
else
  ws, we, count, consec, lock = ARGV[1], ARGV[1], '0', '0', false
end
if not lock or tonumber(ARGV[2]) > tonumber(lock) then
  lock = ARGV[2]
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'ws', ws, 'we', we, 'count', count, 'consec', consec, 'lock', lock)
local retained = we
if tonumber(lock) > tonumber(we) then
  retained = lock
end
redis.call('PEXPIREAT', KEYS[1], retained)
return {ws, we, count, consec, lock}
