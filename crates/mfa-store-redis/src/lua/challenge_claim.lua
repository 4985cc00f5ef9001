-- create_challenge, step 1: claim the id -> user mapping. KEYS[2] mapping key.
-- ARGV[1] user, ARGV[2] expires_at (ms). Returns the other owner, or false if claimed.
return mapping_claim(KEYS[2], ARGV[1], ARGV[2])
