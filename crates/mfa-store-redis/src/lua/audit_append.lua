-- append_audit. KEYS[2] sorted set (score: time in ms), KEYS[3] the user's sequence counter.
-- ARGV[1] time (ms), ARGV[2] encoded event. Members start with a zero-padded sequence number,
-- so equal times sort by append order.
local seq = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[2], ARGV[1], string.format('%020d', seq) .. ARGV[2])
return seq
