-- revoke_user_challenges: every challenge of one user, whatever its purpose.
-- KEYS[2] the user's set of challenge ids. ARGV[1] challenge key base, ARGV[2] pointer key base.
-- Returns how many challenges existed (expired ones are already gone by their TTL).
local deleted = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = ARGV[1] .. id
  local purpose = redis.call('HGET', key, 'purpose')
  deleted = deleted + redis.call('DEL', key)
  if purpose then
    local pointer = ARGV[2] .. purpose
    if redis.call('GET', pointer) == id then
      redis.call('DEL', pointer)
    end
  end
end
redis.call('DEL', KEYS[2])
return deleted
