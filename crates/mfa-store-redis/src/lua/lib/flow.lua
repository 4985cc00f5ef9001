-- Library: what the coarse flow operations add: arguments read section by section, and the
-- takes of an attempt plan as the store wrote them into the challenge.

-- The greatest time stored, in ms (codec.rs: exact in Lua's doubles).
local MAX_MS = 9007199254740991

-- Cursors over KEYS and ARGV, for scripts whose arguments come in optional sections.
local key_at, arg_at = 0, 0

local function next_key()
  key_at = key_at + 1
  return KEYS[key_at]
end

local function next_arg()
  arg_at = arg_at + 1
  return ARGV[arg_at]
end

-- The next `n` arguments, as a list.
local function next_args(n)
  local out = {}
  for i = 1, n do
    out[i] = next_arg()
  end
  return out
end

-- Whether the next argument is `name`, which opens an optional section (then consumed).
local function section(name)
  if ARGV[arg_at + 1] == name then
    arg_at = arg_at + 1
    return true
  end
  return false
end

-- The parts `text` was written as (`<byte length>:<part>` each, codec.rs `push_part`); nil if
-- it is not such a list.
local function split_parts(text)
  local out, at = {}, 1
  while at <= #text do
    local colon = string.find(text, ':', at, true)
    if not colon then
      return nil
    end
    local len = string.sub(text, at, colon - 1)
    if not string.match(len, '^%d+$') then
      return nil
    end
    len = tonumber(len)
    if colon + len > #text then
      return nil
    end
    out[#out + 1] = string.sub(text, colon + 1, colon + len)
    at = colon + len + 1
  end
  return out
end

-- A plan list as stored (challenge fields `ptr`, `ptu`): { {marker, counter key, window (ms),
-- limit}, ... }; nil if it does not parse.
local function plan_takes(text)
  local parts = split_parts(text)
  if not parts or #parts % 4 ~= 0 then
    return nil
  end
  local takes = {}
  for i = 1, #parts, 4 do
    local window, limit = parts[i + 2], parts[i + 3]
    if not string.match(window, '^%d+$') or not string.match(limit, '^%d+$') then
      return nil
    end
    takes[#takes + 1] = {parts[i], parts[i + 1], window, tonumber(limit)}
  end
  return takes
end

-- The end (decimal ms) of a window of `window` ms (decimal) starting at `now` (a number), as
-- the store computes it for take_counters: to_ms(window_end(now, window)).
local function window_end(now, window)
  return string.format('%.0f', math.min(now + tonumber(window), MAX_MS))
end
