-- replace_recovery_codes: the whole set at once. KEYS[2] locator -> verifier hash,
-- KEYS[3] metadata hash. ARGV[1] created_at (ms), ARGV[2..] locator, verifier pairs.
redis.call('DEL', KEYS[2])
if #ARGV > 1 then
  redis.call('HSET', KEYS[2], unpack(ARGV, 2))
end
redis.call('HSET', KEYS[3], 'created', ARGV[1])
return 'ok'
