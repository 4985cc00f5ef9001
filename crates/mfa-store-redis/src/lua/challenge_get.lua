-- challenge. KEYS[2] challenge hash. Returns its fields ({} if absent).
return redis.call('HGETALL', KEYS[2])
