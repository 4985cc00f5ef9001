-- find_recovery_code. KEYS[2] locator -> verifier hash. ARGV[1] locator. Returns the verifier.
return redis.call('HGET', KEYS[2], ARGV[1])
