-- insert_pending_totp. KEYS[1] factor hash, KEYS[2] the user's factor id set.
-- ARGV[1] factor key base (KEYS[1] = ARGV[1] .. ARGV[2]), ARGV[2] factor id, ARGV[3..] fields.
if redis.call('HGET', KEYS[1], 'status') == 'confirmed' then
  return 'conflict'
end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = ARGV[1] .. id
  local status = redis.call('HGET', key, 'status')
  if status == false or status == 'pending' then
    redis.call('DEL', key)
    redis.call('SREM', KEYS[2], id)
  end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'status', 'pending', unpack(ARGV, 3))
redis.call('SADD', KEYS[2], ARGV[2])
return 'ok'
