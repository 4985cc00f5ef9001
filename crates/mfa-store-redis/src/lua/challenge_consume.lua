-- consume_challenge: once. KEYS[2] challenge hash. ARGV[1] now (ms).
local c = redis.call('HMGET', KEYS[2], 'expires', 'consumed')
if not c[1] or tonumber(ARGV[1]) >= tonumber(c[1]) or c[2] == '1' then
  return 0
end
redis.call('HSET', KEYS[2], 'consumed', '1')
return 1
