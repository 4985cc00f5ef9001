-- The user a challenge id belongs to. KEYS[2] mapping key. Returns the user or false.
return redis.call('GET', KEYS[2])
