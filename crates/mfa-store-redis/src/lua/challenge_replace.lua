-- replace_challenge_code (resend): new code and expiry, same id and tries.
-- KEYS[1] challenge hash. ARGV[1] now (ms), ARGV[2] code digest, ARGV[3] expires_at (ms),
-- ARGV[4] pointer key base, ARGV[5] id.
local c = redis.call('HMGET', KEYS[1], 'expires', 'consumed', 'purpose')
if not c[1] or tonumber(ARGV[1]) >= tonumber(c[1]) or c[2] == '1' then
  return 0
end
redis.call('HSET', KEYS[1], 'code', ARGV[2], 'expires', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
local pointer = ARGV[4] .. c[3]
if redis.call('GET', pointer) == ARGV[5] then
  redis.call('PEXPIREAT', pointer, ARGV[3])
end
return 1
