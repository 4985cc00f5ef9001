-- put_webauthn_ceremony. KEYS[2] ceremony hash. ARGV[1] expires_at (ms), ARGV[2..] fields.
-- A ceremony already expired is written and expires at once.
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[2], ARGV[1])
return 'ok'
