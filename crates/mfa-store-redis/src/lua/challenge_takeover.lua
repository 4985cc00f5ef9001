-- create_challenge: take over a mapping whose owner no longer holds the challenge.
-- KEYS[2] mapping key. ARGV[1] expected (stale) owner, ARGV[2] user, ARGV[3] expires_at (ms).
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('PEXPIREAT', KEYS[2], ARGV[3])
return 1
