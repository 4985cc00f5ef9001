-- append_audit (audit_append). KEYS[2] sorted set, KEYS[3] the user's sequence counter.
-- ARGV[1] time (ms), ARGV[2] encoded event. Equal times sort by append order.
return audit_append(KEYS[2], KEYS[3], ARGV[1], ARGV[2])
