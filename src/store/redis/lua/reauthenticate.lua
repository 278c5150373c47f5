-- Records a re-authentication: sets the session's authenticated_at.
-- KEYS[1]: the record. ARGV: session id, authenticated_at (Unix µs).
-- Returns 1 when written; -1 when the key holds no record of this session; -2 when a rotation
-- is moving it (nothing written).
local f = own_record(KEYS[1], ARGV[1])
if type(f) == 'number' then
  return f
end
redis.call('HSET', KEYS[1], 't', ARGV[2])
return 1
