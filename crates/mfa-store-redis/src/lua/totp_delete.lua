-- delete_totp. KEYS[2] factor hash, KEYS[3] the user's factor id set. ARGV[1] factor id.
local existed = redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return existed
