-- replace_totp_secret (compare-and-swap). KEYS[2] factor hash. ARGV[1] expected, ARGV[2] new.
local current = redis.call('HGET', KEYS[2], 'secret')
if current == false or current ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[2], 'secret', ARGV[2])
return 1
