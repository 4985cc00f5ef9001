-- delete_totp. KEYS[1] factor hash, KEYS[2] the user's factor id set. ARGV[1] factor id.
local existed = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return existed
