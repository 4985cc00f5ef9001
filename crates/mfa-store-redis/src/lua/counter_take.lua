-- take_counter / take_counters: bounded hits (counter_take), in order, stopping at the first
-- refusal. KEYS[2i - 1] the data-loss marker of take i's slot, KEYS[2i] its counter hash.
-- ARGV[1] now (ms); ARGV[2i] the window end of take i if a window starts, ARGV[2i + 1] its limit.
-- Returns { {status, window_start, window_end, count, consecutive, locked_until or ''}, ... },
-- status 'taken' or 'refused'; after a refusal nothing more is taken or returned.
-- Every marker is checked before anything is written: an error after a write would leave it.
for i = 1, #KEYS / 2 do
  check_marker(KEYS[2 * i - 1])
end
local out = {}
for i = 1, #KEYS / 2 do
  local entry = counter_take(KEYS[2 * i], ARGV[1], ARGV[2 * i], tonumber(ARGV[2 * i + 1]))
  out[#out + 1] = entry
  if entry[1] ~= 'taken' then
    return out
  end
end
return out
