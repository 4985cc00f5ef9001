-- Library: TOTP factors. A factor is a hash under its user's tag, listed in the user's set of
-- factor ids; factors have no TTL, so a listed factor that is gone was lost.

local TOTP_LOST = 'a TOTP factor was written and is gone'

-- Whether `step` (decimal) may be recorded as the factor's last used step: the factor is
-- confirmed and `step` is greater than the last one. Reads only.
local function totp_advanceable(key, step)
  local f = redis.call('HMGET', key, 'status', 'step')
  if f[1] ~= 'confirmed' then
    return false
  end
  return not (f[2] and dec_ge(f[2], step))
end

-- Records `step` (after totp_advanceable said it may).
local function totp_advance(key, step)
  redis.call('HSET', key, 'step', step)
end

-- The user's factors as { {id, field, value, ...}, ... }; nil if a listed factor is gone.
-- `index` the user's set of factor ids, `base` the factor key base.
local function totp_rows(index, base)
  local out = {}
  for _, id in ipairs(redis.call('SMEMBERS', index)) do
    local fields = redis.call('HGETALL', base .. id)
    if #fields == 0 then
      return nil
    end
    table.insert(fields, 1, id)
    out[#out + 1] = fields
  end
  return out
end
