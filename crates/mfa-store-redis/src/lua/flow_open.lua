-- open_ticket: take the budget (counter_take) and only if it counted claim the id
-- (mapping_claim, route_write), store the challenge (challenge_store) and append the audit
-- record (audit_append). The parts come as optional sections, each opening with its slot's
-- marker: a standalone server runs them all in one script, a Cluster each slot's in its own.
--   ARGV[1] now (ms)
--   'budget': KEYS marker, counter; ARGV window end (ms), limit
--   'claim':  KEYS marker, id mapping, route; ARGV user, expires (ms), n, n route fields/values
--   'store':  KEYS marker, challenge hash, purpose pointer, id set; ARGV key base, id, purpose,
--             expires (ms), n, n challenge fields/values
--   'audit':  KEYS marker, sorted set, sequence; ARGV time (ms), encoded event
-- Every marker is checked before the first write. Returns {'refused', take} (nothing else
-- done), {'held', take} (the budget taken, the id another user's: nothing else done; the
-- caller goes create_challenge's way) or {'opened', take}; take as in counter_take, {} without
-- a budget section.
arg_at = 1
local now_ms = ARGV[1]
local markers = {}
local budget, claim, store, audit
if section('budget') then
  markers[#markers + 1] = next_key()
  budget = {key = next_key(), window_end = next_arg(), limit = tonumber(next_arg())}
end
if section('claim') then
  markers[#markers + 1] = next_key()
  claim = {mapping = next_key(), route = next_key(), user = next_arg(), expires = next_arg()}
  claim.fields = next_args(tonumber(next_arg()))
end
if section('store') then
  markers[#markers + 1] = next_key()
  store = {key = next_key(), pointer = next_key(), index = next_key()}
  store.base, store.id, store.purpose, store.expires = next_arg(), next_arg(), next_arg(), next_arg()
  store.fields = next_args(tonumber(next_arg()))
end
if section('audit') then
  markers[#markers + 1] = next_key()
  audit = {zset = next_key(), seq = next_key(), at = next_arg(), event = next_arg()}
end
for _, marker in ipairs(markers) do
  check_marker(marker)
end

local take = {}
if budget then
  take = counter_take(budget.key, now_ms, budget.window_end, budget.limit)
  if take[1] ~= 'taken' then
    return {'refused', take}
  end
end
if claim then
  if mapping_claim(claim.mapping, claim.user, claim.expires) then
    return {'held', take}
  end
  route_write(claim.route, claim.mapping, claim.fields)
end
if store then
  challenge_store(store.key, store.pointer, store.index, store.base, store.id, store.purpose,
    store.expires, store.fields)
end
if audit then
  audit_append(audit.zset, audit.seq, audit.at, audit.event)
end
return {'opened', take}
