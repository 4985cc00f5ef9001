-- totp_factors. KEYS[2] the user's factor id set. ARGV[1] factor key base.
-- Returns { {id, field, value, ...}, ... }; the data-loss error if a listed factor is gone.
local rows = totp_rows(KEYS[2], ARGV[1])
if not rows then
  data_loss(TOTP_LOST)
end
return rows
