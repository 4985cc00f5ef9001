-- Deletes an id -> user mapping and its route if it still names this user. KEYS[2] mapping,
-- KEYS[3] route. ARGV[1] user.
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[3])
  return redis.call('DEL', KEYS[2])
end
return 0
