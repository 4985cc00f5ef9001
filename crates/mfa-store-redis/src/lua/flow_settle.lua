-- settle: the conditions first, without writing (totp_advanceable, challenge_consumable; a
-- challenge listed twice cannot be consumed twice); only if all hold, every operation in order.
-- ARGV[1] now (ms), ARGV[2] m: KEYS[1..m] the data-loss markers of every slot touched. Then
-- the operations, each taking its keys from KEYS and its arguments from ARGV in turn:
--   'advance' KEYS factor hash; ARGV step (decimal)
--   'consume' KEYS challenge hash
--   'reset'   KEYS counter
--   'refund'  KEYS counter
--   'lock'    KEYS counter; ARGV until (ms)
--   'audit'   KEYS sorted set, sequence; ARGV time (ms), encoded event
-- Returns 1 when applied, 0 when a condition did not hold (nothing changed).
local now_ms = ARGV[1]
local now = tonumber(now_ms)
arg_at = 2
for _ = 1, tonumber(ARGV[2]) do
  check_marker(next_key())
end
local ops = {}
while arg_at < #ARGV do
  local op = {name = next_arg()}
  if op.name == 'advance' then
    op.key, op.step = next_key(), next_arg()
  elseif op.name == 'lock' then
    op.key, op.until_ms = next_key(), next_arg()
  elseif op.name == 'audit' then
    op.zset, op.seq, op.at, op.event = next_key(), next_key(), next_arg(), next_arg()
  elseif op.name == 'consume' or op.name == 'reset' or op.name == 'refund' then
    op.key = next_key()
  else
    return redis.error_reply('ERR settle: unknown operation')
  end
  ops[#ops + 1] = op
end

local consumed = {}
for _, op in ipairs(ops) do
  if op.name == 'advance' and not totp_advanceable(op.key, op.step) then
    return 0
  end
  if op.name == 'consume' then
    if consumed[op.key] or not challenge_consumable(op.key, now) then
      return 0
    end
    consumed[op.key] = true
  end
end
for _, op in ipairs(ops) do
  if op.name == 'advance' then
    totp_advance(op.key, op.step)
  elseif op.name == 'consume' then
    challenge_consume(op.key)
  elseif op.name == 'reset' then
    redis.call('DEL', op.key)
  elseif op.name == 'refund' then
    counter_refund(op.key, now)
  elseif op.name == 'lock' then
    counter_lock(op.key, now_ms, op.until_ms)
  else
    audit_append(op.zset, op.seq, op.at, op.event)
  end
end
return 1
