-- record_webauthn_use. KEYS[2] credential hash. ARGV[1] expected use count (decimal),
-- ARGV[2..] fields to set. Compare-and-set on the use count.
local uses = redis.call('HGET', KEYS[2], 'uses')
if uses ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[2], unpack(ARGV, 2))
redis.call('HINCRBY', KEYS[2], 'uses', 1)
return 1
