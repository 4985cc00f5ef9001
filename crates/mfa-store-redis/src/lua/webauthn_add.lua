-- add_webauthn_credential, second step. KEYS[2] credential hash, KEYS[3] id set.
-- ARGV[1] record id, ARGV[2..] fields.
if redis.call('EXISTS', KEYS[2]) == 1 then
  return 'conflict'
end
redis.call('HSET', KEYS[2], unpack(ARGV, 2))
redis.call('SADD', KEYS[3], ARGV[1])
return 'ok'
