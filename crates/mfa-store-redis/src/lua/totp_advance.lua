-- advance_totp_step: the replay guard. KEYS[2] factor hash. ARGV[1] step (decimal).
if not totp_advanceable(KEYS[2], ARGV[1]) then
  return 0
end
totp_advance(KEYS[2], ARGV[1])
return 1
