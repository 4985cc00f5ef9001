-- counter / counters: the live states of KEYS (all keys share one hash tag). ARGV[1] now (ms).
-- Returns one entry per key: {} when absent or expired, else the state as in counter_hit.
local now = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local c = redis.call('HMGET', key, 'ws', 'we', 'count', 'consec', 'lock')
  local entry = {}
  if c[2] then
    local retained = tonumber(c[2])
    if c[5] and tonumber(c[5]) > retained then
      retained = tonumber(c[5])
    end
    if now < retained then
      entry = {c[1], c[2], c[3], c[4], c[5] or ''}
    end
  end
  out[i] = entry
end
return out
