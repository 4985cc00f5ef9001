-- login_view: a user's settings (settings_fields), how many recovery codes are left, and the
-- states of counters (counter_state). Reads only.
-- KEYS[1] the data-loss marker of the user's slot, KEYS[2] settings hash, KEYS[3] recovery code
-- hash, KEYS[2i + 2] and KEYS[2i + 3] the marker of counter i's slot and its hash.
-- ARGV[1] now (ms).
-- Returns {settings fields, recovery codes left, {counter state, ...}}.
for i = 4, #KEYS, 2 do
  check_marker(KEYS[i])
end
local now = tonumber(ARGV[1])
local counters = {}
for i = 4, #KEYS, 2 do
  counters[#counters + 1] = counter_state(KEYS[i + 1], now)
end
return {settings_fields(KEYS[1], KEYS[2]), redis.call('HLEN', KEYS[3]), counters}
