-- spend_attempt: spend one try before any comparison. KEYS[2] challenge hash. ARGV[1] now (ms).
local c = redis.call('HMGET', KEYS[2], 'expires', 'consumed', 'left')
if not c[1] then
  return {'not_found'}
end
if tonumber(ARGV[1]) >= tonumber(c[1]) then
  return {'expired'}
end
if c[2] == '1' then
  return {'consumed'}
end
if tonumber(c[3]) <= 0 then
  return {'exhausted'}
end
redis.call('HINCRBY', KEYS[2], 'left', -1)
local out = redis.call('HGETALL', KEYS[2])
table.insert(out, 1, 'spent')
return out
