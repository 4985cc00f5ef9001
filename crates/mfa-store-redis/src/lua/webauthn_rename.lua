-- rename_webauthn_credential. KEYS[2] credential hash. ARGV[1] label.
if redis.call('EXISTS', KEYS[2]) == 0 then
  return 0
end
redis.call('HSET', KEYS[2], 'label', ARGV[1])
return 1
