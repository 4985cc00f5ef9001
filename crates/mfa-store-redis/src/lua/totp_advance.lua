-- advance_totp_step: the replay guard. KEYS[2] factor hash. ARGV[1] step (decimal).
if redis.call('HGET', KEYS[2], 'status') ~= 'confirmed' then
  return 0
end
local last = redis.call('HGET', KEYS[2], 'step')
if last and dec_ge(last, ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[2], 'step', ARGV[1])
return 1
