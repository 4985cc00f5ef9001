-- Library: audit events. A user's events are a sorted set scored by time (ms), each member a
-- zero-padded per-user sequence number followed by the encoded event.

-- Appends `event` (encoded) at `at` (ms). `zset` the sorted set, `seq` the user's sequence.
-- Returns the sequence number.
local function audit_append(zset, seq, at, event)
  local n = redis.call('INCR', seq)
  redis.call('ZADD', zset, at, string.format('%020d', n) .. event)
  return n
end
