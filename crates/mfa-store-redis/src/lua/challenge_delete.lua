-- delete_challenge. KEYS[1] challenge hash. ARGV[1] pointer key base, ARGV[2] id.
local purpose = redis.call('HGET', KEYS[1], 'purpose')
local existed = redis.call('DEL', KEYS[1])
if purpose then
  local pointer = ARGV[1] .. purpose
  if redis.call('GET', pointer) == ARGV[2] then
    redis.call('DEL', pointer)
  end
end
return existed
