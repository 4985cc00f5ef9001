-- refund_counter: give back one event of the current window. KEYS[2] counter hash.
-- ARGV[1] now (ms). Changes nothing unless the record is live, its window runs and count > 0.
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[2], 'we', 'count', 'lock')
if not c[1] then
  return 0
end
local retained = tonumber(c[1])
if c[3] and tonumber(c[3]) > retained then
  retained = tonumber(c[3])
end
if now >= retained or now >= tonumber(c[1]) or tonumber(c[2]) <= 0 then
  return 0
end
redis.call('HINCRBY', KEYS[2], 'count', -1)
return 1
