-- revoke_all_devices. KEYS[2] token -> id index, KEYS[3] id set. ARGV[1] device key base.
local deleted = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  deleted = deleted + redis.call('DEL', ARGV[1] .. id)
end
redis.call('DEL', KEYS[2], KEYS[3])
return deleted
