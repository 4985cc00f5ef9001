-- totp_factor. KEYS[2] factor hash, KEYS[3] the user's factor id set. ARGV[1] factor id.
-- Returns its fields, {} if there is no such factor; the data-loss error if the id set lists
-- it but the hash is gone (factors have no TTL: only a loss removes one behind the set's back).
local fields = redis.call('HGETALL', KEYS[2])
if #fields == 0 and redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then
  data_loss(TOTP_LOST)
end
return fields
