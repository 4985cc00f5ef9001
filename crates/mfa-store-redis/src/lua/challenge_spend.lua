-- spend_attempt: spend one try before any comparison. KEYS[2] challenge hash. ARGV[1] now (ms).
-- Returns {refusal} or {'spent', field, value, ...}.
local refusal = challenge_refusal(KEYS[2], tonumber(ARGV[1]))
if refusal then
  return {refusal}
end
local out = challenge_spend(KEYS[2])
table.insert(out, 1, 'spent')
return out
