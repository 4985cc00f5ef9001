-- confirm_totp. KEYS[1] factor hash. ARGV[1] step (decimal).
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'confirmed', 'step', ARGV[1])
return 1
