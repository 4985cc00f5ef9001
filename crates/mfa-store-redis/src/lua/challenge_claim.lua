-- create_challenge, step 1: claim the id -> user mapping. KEYS[2] mapping key.
-- ARGV[1] user, ARGV[2] expires_at (ms). Returns the other owner, or false if claimed.
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] then
  return owner
end
if owner then
  extend_expiry(KEYS[2], ARGV[2])
else
  redis.call('SET', KEYS[2], ARGV[1])
  redis.call('PEXPIREAT', KEYS[2], ARGV[2])
end
return false
