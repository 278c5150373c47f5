-- The helpers every script starts with: scripts.rs puts this file in front of each script.

-- The fields `...` of the record at `key`, after checking that it is session `id`'s and that
-- no rotation is moving it. Returns a table of their values, or -1 when the key holds no record
-- of this session, -2 when a rotation is moving it.
local function own_record(key, id, ...)
  local f = redis.call('HMGET', key, 'i', 'm', ...)
  if f[1] ~= id then
    return -1
  end
  if f[2] then
    return -2
  end
  return {unpack(f, 3)}
end

-- Calls `each(batch)` for consecutive slices of at most 500 items of `list` (a command's
-- arguments are unpacked onto Lua's stack, which is limited).
local function in_batches(list, each)
  for first = 1, #list, 500 do
    local batch = {}
    for i = first, math.min(first + 499, #list) do
      batch[#batch + 1] = list[i]
    end
    each(batch)
  end
end

-- Makes the first `n` KEYS expire at `deadline` (Unix ms), unless one already expires later.
local function expire_at_least(n, deadline)
  for i = 1, n do
    redis.call('PEXPIREAT', KEYS[i], deadline, 'NX')
    redis.call('PEXPIREAT', KEYS[i], deadline, 'GT')
  end
end

