-- counter / counters: the live states of several counters (counter_state).
-- KEYS[2i - 1] the data-loss marker of counter i's slot, KEYS[2i] its hash. ARGV[1] now (ms).
-- Returns one entry per counter: {} when absent or expired, else
-- {window_start, window_end, count, consecutive, locked_until or ''}.
for i = 1, #KEYS / 2 do
  check_marker(KEYS[2 * i - 1])
end
local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS / 2 do
  out[i] = counter_state(KEYS[2 * i], now)
end
return out
