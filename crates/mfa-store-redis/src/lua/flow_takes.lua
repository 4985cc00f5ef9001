-- attempt on a Cluster, after the try: one run of the plan's takes on this slot, in order,
-- stopping at the first refusal (counter_take), then, if asked and every take counted, the
-- user's factors (totp_rows).
-- KEYS[2i - 1] and KEYS[2i] the marker and counter of take i, then, when factors are asked,
-- the user's factor id set. ARGV[1] now (ms), ARGV[2] '1' to read the factors, ARGV[3] the
-- factor key base, ARGV[2i + 2] and ARGV[2i + 3] the window end (ms) and limit of take i.
-- Returns {{take, ...}, factors} as flow_attempt.
local read = ARGV[2] == '1'
local count = math.floor(#KEYS / 2)
for i = 1, count do
  check_marker(KEYS[2 * i - 1])
end
local taken = {}
for i = 1, count do
  local entry = counter_take(KEYS[2 * i], ARGV[1], ARGV[2 * i + 2], tonumber(ARGV[2 * i + 3]))
  taken[i] = entry
  if entry[1] ~= 'taken' then
    return {taken, {'none'}}
  end
end
if not read then
  return {taken, {'none'}}
end
local rows = totp_rows(KEYS[#KEYS], ARGV[3])
if not rows then
  return {taken, {'lost'}}
end
return {taken, {'read', rows}}
