-- refund_counter (counter_refund). KEYS[2] counter hash. ARGV[1] now (ms).
return counter_refund(KEYS[2], tonumber(ARGV[1]))
