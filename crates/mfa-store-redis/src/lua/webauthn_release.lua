-- Releasing a credential-id claim. KEYS[2] the claim. ARGV[1] the owner that made it.
if redis.call('GET', KEYS[2]) == ARGV[1] then
  return redis.call('DEL', KEYS[2])
end
return 0
