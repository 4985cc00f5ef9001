-- audit_events. KEYS[2] sorted set. ARGV[1] index of the last event (limit - 1).
return redis.call('ZRANGE', KEYS[2], 0, ARGV[1], 'REV')
