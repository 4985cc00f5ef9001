-- add_webauthn_credential, first step. KEYS[2] the relying party's credential-id claim.
-- ARGV[1] owner ("<user>\n<record id>"). A claimed credential id belongs to one record.
if redis.call('SET', KEYS[2], ARGV[1], 'NX') then
  return 'ok'
end
return 'conflict'
