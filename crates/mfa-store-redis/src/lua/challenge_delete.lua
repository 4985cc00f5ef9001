-- delete_challenge. KEYS[2] challenge hash, KEYS[3] the user's set of challenge ids.
-- ARGV[1] pointer key base, ARGV[2] id.
local purpose = redis.call('HGET', KEYS[2], 'purpose')
local existed = redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[2])
if purpose then
  local pointer = ARGV[1] .. purpose
  if redis.call('GET', pointer) == ARGV[2] then
    redis.call('DEL', pointer)
  end
end
return existed
