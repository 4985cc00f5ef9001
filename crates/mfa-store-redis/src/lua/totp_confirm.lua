-- confirm_totp. KEYS[2] factor hash. ARGV[1] step (decimal), ARGV[2] now (ms).
if redis.call('HGET', KEYS[2], 'status') ~= 'pending' then
  return 0
end
redis.call('HSET', KEYS[2], 'status', 'confirmed', 'step', ARGV[1], 'confirmed', ARGV[2])
return 1
