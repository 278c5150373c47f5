-- Extends a session: sets refreshed_at and expires_at, and the record's expiry deadline.
-- KEYS[1]: the record. ARGV: session id, refreshed_at, expires_at (Unix µs), deadline (Unix ms).
-- Returns {1, absolute_expires_at, user id} when extended; {-1} when the key holds no record of
-- this session; {-2} when a rotation is moving it (nothing written).
local f = redis.call('HMGET', KEYS[1], 'i', 'm', 'a', 'u')
if f[1] ~= ARGV[1] then
  return {-1}
end
if f[2] then
  return {-2}
end
redis.call('HSET', KEYS[1], 'r', ARGV[2], 'e', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return {1, f[3], f[4]}
