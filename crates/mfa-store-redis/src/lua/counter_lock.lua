-- lock_counter: lock until ARGV[2] (ms), only ever extending, and start an empty window at
-- now (count 0; consecutive failures kept). KEYS[2] counter hash. ARGV[1] now (ms).
-- Returns the state as in counter_read.
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[2], 'ws', 'we', 'count', 'consec', 'lock')
local live = false
if c[2] then
  local retained = tonumber(c[2])
  if c[5] and tonumber(c[5]) > retained then
    retained = tonumber(c[5])
  end
  live = now < retained
end
local consec, lock = '0', ARGV[2]
if live then
  consec = c[4]
  if c[5] and tonumber(c[5]) > tonumber(ARGV[2]) then
    lock = c[5]
  end
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'ws', ARGV[1], 'we', ARGV[1], 'count', '0', 'consec', consec, 'lock', lock)
redis.call('PEXPIREAT', KEYS[2], math.max(tonumber(lock), now))
return {ARGV[1], ARGV[1], '0', consec, lock}
