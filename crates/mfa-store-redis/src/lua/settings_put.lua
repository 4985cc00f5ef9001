-- put_settings: whole-record upsert. KEYS[1] settings hash. ARGV field, value pairs.
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV))
return 'ok'
