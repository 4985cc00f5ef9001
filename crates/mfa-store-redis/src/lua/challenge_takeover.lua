-- create_challenge: take over a mapping whose owner no longer holds the challenge, with its
-- route. KEYS[2] mapping key, KEYS[3] route. ARGV[1] expected (stale) owner, ARGV[2] user,
-- ARGV[3] expires_at (ms), ARGV[4..] route fields.
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('PEXPIREAT', KEYS[2], ARGV[3])
route_write(KEYS[3], KEYS[2], {unpack(ARGV, 4)})
return 1
