-- mfa-store-redis: prepended to every script.
-- KEYS[1] is always the data-loss marker of the slot the script works in (written once per
-- deployment by RedisStore::initialise, never implicitly). Without it, nothing this slot answers
-- can be trusted: an absent record may be one that was lost. Refuse before the script runs.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('MFADATALOSS the data-loss marker of this hash slot is missing')
end

-- Times are unix milliseconds passed by the caller (never Redis' TIME); TTLs are housekeeping.

-- Raises the data-loss error from inside a script (a record known to exist is gone).
local function data_loss(what)
  error({err = 'MFADATALOSS ' .. what})
end

-- The markers this run found. A script runs atomically and checks its markers before its first
-- write, so a marker found once is there for the rest of the run: one EXISTS per marker, however
-- many records of its slot the script names (a login names the user's marker up to 8 times).
local markers_found = {[KEYS[1]] = true}

-- Whether `marker` (another slot's marker, in a batch) exists; raises the data-loss error if not.
local function check_marker(marker)
  if markers_found[marker] then
    return
  end
  if redis.call('EXISTS', marker) == 0 then
    data_loss('the data-loss marker of this hash slot is missing')
  end
  markers_found[marker] = true
end

-- Sets the expiry of `key` to `at` unless it already expires later (index keys shared by
-- several records live as long as the longest-lived record).
local function extend_expiry(key, at)
  local current = redis.call('PEXPIRETIME', key)
  if current < 0 or current < tonumber(at) then
    redis.call('PEXPIREAT', key, at)
  end
end

-- Whether decimal string `a` (no leading zeros) is >= decimal string `b`, exact for any u64.
local function dec_ge(a, b)
  return #a > #b or (#a == #b and a >= b)
end
