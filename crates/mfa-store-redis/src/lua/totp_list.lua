-- totp_factors. KEYS[2] the user's factor id set. ARGV[1] factor key base.
-- Returns { {id, field, value, ...}, ... }; the data-loss error if a listed factor is gone.
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local fields = redis.call('HGETALL', ARGV[1] .. id)
  if #fields == 0 then
    data_loss('a TOTP factor was written and is gone')
  end
  table.insert(fields, 1, id)
  out[#out + 1] = fields
end
return out
