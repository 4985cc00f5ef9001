-- remove_webauthn_credential. KEYS[2] credential hash, KEYS[3] id set. ARGV[1] record id.
-- Returns {} if absent, else {rp_id, credential_id} (to release the claim).
local found = redis.call('HMGET', KEYS[2], 'rp', 'cid')
if not found[1] then
  return {}
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return found
