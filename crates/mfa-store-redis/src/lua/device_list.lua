-- trusted_devices. KEYS[2] id set. ARGV[1] device key base.
-- Returns { {id, field, value, ...}, ... }; drops ids whose hash is gone (expired by TTL).
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local fields = redis.call('HGETALL', ARGV[1] .. id)
  if #fields == 0 then
    redis.call('SREM', KEYS[2], id)
  else
    table.insert(fields, 1, id)
    out[#out + 1] = fields
  end
end
return out
