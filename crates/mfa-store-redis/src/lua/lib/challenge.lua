-- Library: challenges. A challenge is a hash under its user's tag (expires, consumed, left,
-- purpose, ... ; see challenge.rs), beside the user's pointer per purpose and set of ids; the
-- id -> user mapping lives in the id's own slot.

-- Why a try cannot be spent on a challenge whose fields `expires`, `consumed` and `left` are
-- `c` (as HMGET gives them: false when absent) at `now`: 'not_found', 'expired', 'consumed',
-- 'exhausted'; nil if it can.
local function challenge_refusal_of(c, now)
  if not c[1] then
    return 'not_found'
  end
  if now >= tonumber(c[1]) then
    return 'expired'
  end
  if c[2] == '1' then
    return 'consumed'
  end
  if tonumber(c[3]) <= 0 then
    return 'exhausted'
  end
  return nil
end

-- Why a try cannot be spent on the challenge at `now` (challenge_refusal_of). Reads only.
local function challenge_refusal(key, now)
  return challenge_refusal_of(redis.call('HMGET', key, 'expires', 'consumed', 'left'), now)
end

-- Spends one try (after challenge_refusal said it can be). Returns the challenge's fields.
local function challenge_spend(key)
  redis.call('HINCRBY', key, 'left', -1)
  return redis.call('HGETALL', key)
end

-- Whether the challenge is live at `now` and unconsumed, so a consume would succeed. Reads only.
local function challenge_consumable(key, now)
  local c = redis.call('HMGET', key, 'expires', 'consumed')
  return c[1] and now < tonumber(c[1]) and c[2] ~= '1'
end

-- Consumes the challenge (after challenge_consumable said it can).
local function challenge_consume(key)
  redis.call('HSET', key, 'consumed', '1')
end

-- Claims the id mapping for `user` until `expires` (ms), or returns the other user holding it.
-- Returns false when claimed.
local function mapping_claim(mapping, user, expires)
  -- Set only if absent, answering the owner before: one command for a new id.
  local owner = redis.call('SET', mapping, user, 'NX', 'PXAT', expires, 'GET')
  if owner and owner ~= user then
    return owner
  end
  if owner then
    extend_expiry(mapping, expires)
  end
  return false
end

-- Stores a challenge, replacing the user's previous challenge of the same purpose: one per user
-- and purpose. `key` the challenge hash, `pointer` the user's pointer for this purpose, `index`
-- the user's set of challenge ids, `base` the challenge key base (`key` = base .. id),
-- `expires` (ms), `fields` a flat field, value list.
local function challenge_store(key, pointer, index, base, id, purpose, expires, fields)
  -- The pointer moves to `id` (with its expiry) in the command that answers the one before.
  local old = redis.call('SET', pointer, id, 'PXAT', expires, 'GET')
  if old and old ~= id then
    local old_key = base .. old
    if redis.call('HGET', old_key, 'purpose') == purpose then
      redis.call('DEL', old_key)
      redis.call('SREM', index, old)
    end
  end
  redis.call('DEL', key)
  redis.call('HSET', key, unpack(fields))
  redis.call('SADD', index, id)
  -- In the past, PEXPIREAT deletes at once: an already-expired challenge is simply not stored
  -- (nor is its pointer: a key set with an expiry in the past is gone at its next lookup).
  redis.call('PEXPIREAT', key, expires)
  extend_expiry(index, expires)
end

-- Writes the route beside a mapping just claimed: `fields` (a flat field, value list: the
-- names of the challenge's keys and of its slot's marker, built by the store), expiring with
-- the mapping; no route when the mapping is gone (claimed already expired).
local function route_write(route, mapping, fields)
  local at = redis.call('PEXPIRETIME', mapping)
  if at < 0 then
    redis.call('DEL', route)
    return
  end
  -- A route always has the same fields (challenge.rs route_fields): HSET replaces it whole.
  redis.call('HSET', route, unpack(fields))
  redis.call('PEXPIREAT', route, at)
end
