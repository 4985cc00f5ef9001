-- create_challenge, step 2: one challenge per user and purpose (challenge_store).
-- KEYS[2] challenge hash, KEYS[3] the user's pointer for this purpose, KEYS[4] the user's set
-- of challenge ids. ARGV[1] challenge key base, ARGV[2] id, ARGV[3] purpose,
-- ARGV[4] expires_at (ms), ARGV[5..] fields.
challenge_store(KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4], {unpack(ARGV, 5)})
return 'ok'
