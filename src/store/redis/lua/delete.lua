-- Deletes a session record if it belongs to a user, or if it has expired at a time.
-- KEYS[1]: the record. ARGV: session id, 'user' or 'expired', the user id or the time (Unix µs).
-- Returns {1, user id, expires_at, moving-to hash or nil} when deleted; {0, user id, expires_at}
-- when the check refused it; {2, user id, expires_at} when a rotation is moving an expired
-- record (left to the rotation: the cleanup deletes the moved record next time); {-1} when the
-- key holds no record of this session.
-- A rotation's mark does not stop a user's delete: the rotation notices and undoes itself.

-- Whether the decimal integer a is at most b, exactly (Lua numbers are doubles).
local function at_most(a, b)
  local na, nb = a:sub(1, 1) == '-', b:sub(1, 1) == '-'
  if na ~= nb then
    return na
  end
  if #a ~= #b then
    return (#a < #b) ~= na
  end
  if na then
    return a >= b
  end
  return a <= b
end

local f = redis.call('HMGET', KEYS[1], 'i', 'u', 'e', 'm')
if f[1] ~= ARGV[1] then
  return {-1}
end
local ok
if ARGV[2] == 'user' then
  ok = f[2] == ARGV[3]
else
  ok = f[3] ~= false and at_most(f[3], ARGV[3])
end
if not ok then
  return {0, f[2], f[3]}
end
if f[4] and ARGV[2] ~= 'user' then
  return {2, f[2], f[3]}
end
redis.call('DEL', KEYS[1])
return {1, f[2], f[3], f[4]}
