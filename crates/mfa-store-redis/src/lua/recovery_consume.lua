-- consume_recovery_code: once. KEYS[2] locator -> verifier hash. ARGV[1] locator.
return redis.call('HDEL', KEYS[2], ARGV[1])
