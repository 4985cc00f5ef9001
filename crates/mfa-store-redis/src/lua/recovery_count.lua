-- remaining_recovery_codes. KEYS[2] locator -> verifier hash.
return redis.call('HLEN', KEYS[2])
