-- webauthn_credentials. KEYS[2] id set. ARGV[1] credential key base.
-- Returns { {id, field, value, ...}, ... }. Credentials never expire: an id whose hash is gone
-- was lost, and a lost credential must not read as "no credential".
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local fields = redis.call('HGETALL', ARGV[1] .. id)
  if #fields == 0 then
    data_loss('a webauthn credential of the index is missing')
  end
  table.insert(fields, 1, id)
  out[#out + 1] = fields
end
return out
