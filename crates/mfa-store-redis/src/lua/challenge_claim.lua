-- create_challenge, step 1: claim the id -> user mapping (mapping_claim) and write its route.
-- KEYS[2] mapping key, KEYS[3] route. ARGV[1] user, ARGV[2] expires_at (ms), ARGV[3..] route
-- fields. Returns the other owner, or false if claimed.
local other = mapping_claim(KEYS[2], ARGV[1], ARGV[2])
if other then
  return other
end
route_write(KEYS[3], KEYS[2], {unpack(ARGV, 3)})
return false
