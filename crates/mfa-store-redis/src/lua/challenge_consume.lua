-- consume_challenge: once. KEYS[2] challenge hash. ARGV[1] now (ms).
if not challenge_consumable(KEYS[2], tonumber(ARGV[1])) then
  return 0
end
challenge_consume(KEYS[2])
return 1
