-- Library: settings. A user's settings are one hash; its key is a field of its slot's marker
-- from the first put_settings on, so a settings record that is gone was lost.

-- The settings' fields, {} if never stored; the data-loss error if the marker records that
-- they were written but the hash is gone (evicted, or lost with the rest of the slot's data
-- while the marker survived). `marker` the data-loss marker of the settings' slot.
local function settings_fields(marker, key)
  local fields = redis.call('HGETALL', key)
  if #fields == 0 and redis.call('HEXISTS', marker, key) == 1 then
    data_loss('the settings record was written and is gone')
  end
  return fields
end
