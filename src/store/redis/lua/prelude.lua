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


-- Forgets (at most 100 of) the user's sessions whose keys Redis has already expired: their
-- deadline is past by Redis's own clock, the clock that expired them. KEYS: the user's index
-- (ids by created_at, ids by deadline, ids being ended; one slot).
local function forget_expired_sessions()
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local gone = redis.call('ZRANGE', KEYS[2], '-inf', '(' .. now, 'BYSCORE', 'LIMIT', 0, 100)
  if #gone > 0 then
    for i = 1, 3 do
      redis.call('ZREM', KEYS[i], unpack(gone))
    end
  end
end
