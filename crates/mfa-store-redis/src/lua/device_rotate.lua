-- rotate_device_token (compare-and-swap). KEYS[2] token -> id index. ARGV[1] device key base,
-- ARGV[2] old digest, ARGV[3] new digest, ARGV[4] now (ms). Returns 1, 0, or -1 if the new
-- digest is held by another device.
local id = redis.call('HGET', KEYS[2], ARGV[2])
if not id then
  return 0
end
local key = ARGV[1] .. id
local d = redis.call('HMGET', key, 'token', 'expires')
if d[1] ~= ARGV[2] or tonumber(ARGV[4]) >= tonumber(d[2]) then
  return 0
end
local holder = redis.call('HGET', KEYS[2], ARGV[3])
if holder and redis.call('HGET', ARGV[1] .. holder, 'token') == ARGV[3] then
  return -1
end
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], id)
redis.call('HSET', key, 'token', ARGV[3], 'seen', ARGV[4])
return 1
