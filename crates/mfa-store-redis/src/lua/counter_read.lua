-- counter / counters: the live states of several counters.
-- KEYS[2i - 1] the data-loss marker of counter i's slot, KEYS[2i] its hash. ARGV[1] now (ms).
-- Returns one entry per counter: {} when absent or expired, else
-- {window_start, window_end, count, consecutive, locked_until or ''}.
local now = tonumber(ARGV[1])
local out = {}
-- Every marker is checked before anything is written: an error after a write would leave it.
for i = 1, #KEYS / 2 do
  check_marker(KEYS[2 * i - 1])
end
for i = 1, #KEYS / 2 do
  local c = redis.call('HMGET', KEYS[2 * i], 'ws', 'we', 'count', 'consec', 'lock')
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
