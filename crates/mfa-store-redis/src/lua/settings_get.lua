-- settings. KEYS[2] settings hash. Returns its fields, {} if never stored; the data-loss error
-- if the marker records that this user's settings were written but the hash is gone (evicted,
-- or lost with the rest of the slot's data while the marker survived).
local fields = redis.call('HGETALL', KEYS[2])
if #fields == 0 and redis.call('HEXISTS', KEYS[1], KEYS[2]) == 1 then
  data_loss('the settings record was written and is gone')
end
return fields
