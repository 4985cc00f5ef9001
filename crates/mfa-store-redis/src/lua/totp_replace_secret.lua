-- replace_totp_secret (compare-and-swap). KEYS[1] factor hash. ARGV[1] expected, ARGV[2] new.
local current = redis.call('HGET', KEYS[1], 'secret')
if current == false or current ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'secret', ARGV[2])
return 1
