-- replace_challenge_code: the id mapping and its route live at least until ARGV[1] (ms), the
-- challenge's new expiry. KEYS[2] mapping, KEYS[3] route.
redis.call('PEXPIREAT', KEYS[2], ARGV[1], 'GT')
redis.call('PEXPIREAT', KEYS[3], ARGV[1], 'GT')
return 1
