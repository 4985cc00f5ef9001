-- lock_counter (counter_lock). KEYS[2] counter hash. ARGV[1] now (ms), ARGV[2] until (ms).
-- Returns the state as in counter_read.
return counter_lock(KEYS[2], ARGV[1], ARGV[2])
