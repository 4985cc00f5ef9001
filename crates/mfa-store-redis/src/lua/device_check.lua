-- check_and_touch_device. KEYS[2] token -> id index. ARGV[1] device key base,
-- ARGV[2] token digest, ARGV[3] now (ms). Returns {} or {id, field, value, ...} after the touch.
local id = redis.call('HGET', KEYS[2], ARGV[2])
if not id then
  return {}
end
local key = ARGV[1] .. id
local d = redis.call('HMGET', key, 'token', 'expires')
if d[1] ~= ARGV[2] then
  redis.call('HDEL', KEYS[2], ARGV[2])
  return {}
end
if tonumber(ARGV[3]) >= tonumber(d[2]) then
  return {}
end
redis.call('HSET', key, 'seen', ARGV[3])
local out = redis.call('HGETALL', key)
table.insert(out, 1, id)
return out
