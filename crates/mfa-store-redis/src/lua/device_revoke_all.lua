-- revoke_all_devices. KEYS[1] token -> id index, KEYS[2] id set. ARGV[1] device key base.
local deleted = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  deleted = deleted + redis.call('DEL', ARGV[1] .. id)
end
redis.call('DEL', KEYS[1], KEYS[2])
return deleted
