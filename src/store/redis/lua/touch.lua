-- Extends a session: sets refreshed_at and expires_at, and the record's expiry deadline.
-- KEYS[1]: the record. ARGV: session id, refreshed_at, expires_at (Unix µs), deadline (Unix ms).
-- Returns {1, absolute_expires_at, user id} when extended; {-1} when the key holds no record of
-- this session; {-2} when a rotation is moving it (nothing written).
local f = own_record(KEYS[1], ARGV[1], 'a', 'u')
if type(f) == 'number' then
  return {f}
end
redis.call('HSET', KEYS[1], 'r', ARGV[2], 'e', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return {1, f[1], f[2]}
