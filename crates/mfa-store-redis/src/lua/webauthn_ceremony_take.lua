-- take_webauthn_ceremony. KEYS[2] ceremony hash. ARGV[1] kind, ARGV[2] now (ms).
-- Returns the fields of a live ceremony of that kind, deleting it; {} otherwise (another kind
-- is left in place; an expired one is deleted).
local fields = redis.call('HGETALL', KEYS[2])
if #fields == 0 then
  return {}
end
local kind = redis.call('HGET', KEYS[2], 'kind')
local expires = redis.call('HGET', KEYS[2], 'expires')
if tonumber(ARGV[2]) >= tonumber(expires) then
  redis.call('DEL', KEYS[2])
  return {}
end
if kind ~= ARGV[1] then
  return {}
end
redis.call('DEL', KEYS[2])
return fields
