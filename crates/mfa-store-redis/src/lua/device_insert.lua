-- insert_trusted_device. KEYS[2] device hash, KEYS[3] token -> id index, KEYS[4] id set.
-- ARGV[1] id, ARGV[2] token digest, ARGV[3] expires_at (ms), ARGV[4] device key base,
-- ARGV[5..] fields.
if redis.call('EXISTS', KEYS[2]) == 1 then
  return 'conflict'
end
local holder = redis.call('HGET', KEYS[3], ARGV[2])
if holder and redis.call('HGET', ARGV[4] .. holder, 'token') == ARGV[2] then
  return 'conflict'
end
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('PEXPIREAT', KEYS[2], ARGV[3])
extend_expiry(KEYS[3], ARGV[3])
extend_expiry(KEYS[4], ARGV[3])
return 'ok'
