-- mfa-store-redis: helpers prepended to every script.
-- Times are unix milliseconds passed by the caller (never Redis' TIME); TTLs are housekeeping.

-- Sets the expiry of `key` to `at` unless it already expires later (index keys shared by
-- several records live as long as the longest-lived record).
local function extend_expiry(key, at)
  local current = redis.call('PEXPIRETIME', key)
  if current < 0 or current < tonumber(at) then
    redis.call('PEXPIREAT', key, at)
  end
end

-- Whether decimal string `a` (no leading zeros) is >= decimal string `b`, exact for any u64.
local function dec_ge(a, b)
  return #a > #b or (#a == #b and a >= b)
end
