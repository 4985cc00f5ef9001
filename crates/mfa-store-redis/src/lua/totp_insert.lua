-- insert_pending_totp. KEYS[2] factor hash, KEYS[3] the user's factor id set.
-- ARGV[1] factor key base (KEYS[2] = ARGV[1] .. ARGV[2]), ARGV[2] factor id, ARGV[3..] fields.
if redis.call('HGET', KEYS[2], 'status') == 'confirmed' then
  return 'conflict'
end
-- Check every listed factor before writing anything: an error after a write would leave it.
local pending = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local status = redis.call('HGET', ARGV[1] .. id, 'status')
  if status == false then
    data_loss(TOTP_LOST)
  end
  if status == 'pending' then
    pending[#pending + 1] = id
  end
end
for _, id in ipairs(pending) do
  redis.call('DEL', ARGV[1] .. id)
  redis.call('SREM', KEYS[3], id)
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'status', 'pending', unpack(ARGV, 3))
redis.call('SADD', KEYS[3], ARGV[2])
return 'ok'
