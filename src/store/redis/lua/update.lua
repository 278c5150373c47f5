-- Replaces a session's data if its version is the expected one (compare-and-swap).
-- KEYS[1]: the record. ARGV: session id, expected version, data, next version.
-- Returns 1 when written; 0 when the version differs; -1 when the key holds no record of this
-- session; -2 when a rotation is moving it (nothing written).
local f = own_record(KEYS[1], ARGV[1], 'v')
if type(f) == 'number' then
  return f
end
if f[1] ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'd', ARGV[3], 'v', ARGV[4])
return 1
