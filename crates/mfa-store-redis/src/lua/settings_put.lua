-- put_settings: whole-record upsert. KEYS[2] settings hash. ARGV field, value pairs.
-- The slot's marker records that this record exists, so that losing it reads as data loss,
-- never as "no second factor".
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(ARGV))
redis.call('HSET', KEYS[1], KEYS[2], '1')
return 'ok'
