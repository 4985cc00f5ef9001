-- revoke_device. KEYS[2] token -> id index, KEYS[3] id set. ARGV[1] device key base, ARGV[2] id.
local key = ARGV[1] .. ARGV[2]
local token = redis.call('HGET', key, 'token')
local existed = redis.call('DEL', key)
if token and redis.call('HGET', KEYS[2], token) == ARGV[2] then
  redis.call('HDEL', KEYS[2], token)
end
redis.call('SREM', KEYS[3], ARGV[2])
return existed
