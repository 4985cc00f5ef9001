-- Deletes an id -> user mapping if it still names this user. KEYS[1] mapping. ARGV[1] user.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
