-- Deletes an id -> user mapping if it still names this user. KEYS[2] mapping. ARGV[1] user.
if redis.call('GET', KEYS[2]) == ARGV[1] then
  return redis.call('DEL', KEYS[2])
end
return 0
