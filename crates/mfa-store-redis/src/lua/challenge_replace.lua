-- replace_challenge_code (resend): new kind, code and expiry, same id and tries.
-- KEYS[2] challenge hash, KEYS[3] the user's set of challenge ids. ARGV[1] now (ms),
-- ARGV[2] kind, ARGV[3] code digest, ARGV[4] expires_at (ms), ARGV[5] pointer key base,
-- ARGV[6] id.
local c = redis.call('HMGET', KEYS[2], 'expires', 'consumed', 'purpose')
if not c[1] or tonumber(ARGV[1]) >= tonumber(c[1]) or c[2] == '1' then
  return 0
end
redis.call('HSET', KEYS[2], 'kind', ARGV[2], 'code', ARGV[3], 'expires', ARGV[4])
redis.call('PEXPIREAT', KEYS[2], ARGV[4])
local pointer = ARGV[5] .. c[3]
if redis.call('GET', pointer) == ARGV[6] then
  redis.call('PEXPIREAT', pointer, ARGV[4])
end
extend_expiry(KEYS[3], ARGV[4])
return 1
