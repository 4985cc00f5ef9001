-- attempt: spend one try (challenge_refusal_of, challenge_spend), take the plan's list for the
-- attempt's tag in order, stopping at the first refusal (counter_take), then read the user's
-- factors (totp_rows) if asked and every take counted. Every marker and the stored plan are
-- checked before the first write.
-- ARGV[1] mode, ARGV[2] now (ms), ARGV[3] the attempt's tag ('-' none, '+' .. tag),
-- ARGV[4] '1' to read the factors, ARGV[5] 'all' (the whole list) or 'slot' (a Cluster: stop
-- before the first take on another slot; the caller takes the rest).
-- Mode 'id' (a standalone server, one script from the id): KEYS[1] the id mapping's marker,
--   KEYS[2] the mapping, KEYS[3] its route, which names the challenge hash, the marker of its
--   slot and the user's factor keys (written by the store with the mapping, never built here).
-- Mode 'keys' (the user is known): KEYS[1] the marker of the user's slot, KEYS[2] the challenge
--   hash, KEYS[3] the user's factor id set; ARGV[6] the factor key base.
-- Returns {'not_found'}, {'no_route', user} (a mapping without a usable route: the caller goes
-- by the user), {refusal}, {'corrupt'} (a stored plan list that does not parse), or
-- {'spent', challenge fields, recognised ('1' | '0'), {take, ...}, factors}, factors being
-- {'none'}, {'read', rows} or {'lost'} (a listed factor is gone).
local now_ms, tag = ARGV[2], ARGV[3]
local now = tonumber(now_ms)
local marker, challenge, factor_index, factor_base
if ARGV[1] == 'id' then
  local user = redis.call('GET', KEYS[2])
  if not user then
    return {'not_found'}
  end
  local route = redis.call('HMGET', KEYS[3], 'u', 'ch', 'm', 'ti', 'tb')
  if route[1] ~= user or not (route[2] and route[3] and route[4] and route[5]) then
    return {'no_route', user}
  end
  challenge, marker, factor_index, factor_base = route[2], route[3], route[4], route[5]
  check_marker(marker)
else
  marker, challenge, factor_index, factor_base = KEYS[1], KEYS[2], KEYS[3], ARGV[6]
end

-- The try's conditions and the plan in one read: expires, consumed, left, ptag, ptr, ptu.
local c = redis.call('HMGET', challenge, 'expires', 'consumed', 'left', 'ptag', 'ptr', 'ptu')
local refusal = challenge_refusal_of(c, now)
if refusal then
  return {refusal}
end
local recognised = c[4] ~= false and string.sub(tag, 1, 1) == '+'
  and string.sub(tag, 2) == c[4]
local list = c[6]
if recognised then
  list = c[5]
end
local takes = {}
if list then
  takes = plan_takes(list)
  if not takes then
    return {'corrupt'}
  end
end
local count = #takes
if ARGV[5] == 'slot' then
  count = 0
  while count < #takes and takes[count + 1][1] == marker do
    count = count + 1
  end
end
for i = 1, count do
  check_marker(takes[i][1])
end

local fields = challenge_spend(challenge)
local taken = {}
for i = 1, count do
  local t = takes[i]
  local entry = counter_take(t[2], now_ms, window_end(now, t[3]), t[4])
  taken[i] = entry
  if entry[1] ~= 'taken' then
    break
  end
end
local factors = {'none'}
if ARGV[4] == '1' and #taken == #takes and (#taken == 0 or taken[#taken][1] == 'taken') then
  local rows = totp_rows(factor_index, factor_base)
  if rows then
    factors = {'read', rows}
  else
    factors = {'lost'}
  end
end
return {'spent', fields, recognised and '1' or '0', taken, factors}
