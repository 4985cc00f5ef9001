-- create_challenge, step 2: one challenge per user and purpose.
-- KEYS[2] challenge hash, KEYS[3] the user's pointer for this purpose, KEYS[4] the user's set
-- of challenge ids. ARGV[1] challenge key base, ARGV[2] id, ARGV[3] purpose,
-- ARGV[4] expires_at (ms), ARGV[5..] fields.
local old = redis.call('GET', KEYS[3])
if old and old ~= ARGV[2] then
  local old_key = ARGV[1] .. old
  if redis.call('HGET', old_key, 'purpose') == ARGV[3] then
    redis.call('DEL', old_key)
    redis.call('SREM', KEYS[4], old)
  end
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
redis.call('SET', KEYS[3], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[2])
-- In the past, PEXPIREAT deletes at once: an already-expired challenge is simply not stored.
redis.call('PEXPIREAT', KEYS[2], ARGV[4])
redis.call('PEXPIREAT', KEYS[3], ARGV[4])
extend_expiry(KEYS[4], ARGV[4])
return 'ok'
