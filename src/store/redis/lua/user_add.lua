-- Lists a session in its user's index, and forgets the user's sessions whose keys Redis has
-- already expired (their deadline is past by Redis's own clock, the clock that expired them).
-- KEYS: the user's ids by created_at, the user's ids by deadline (sorted sets, one slot: the
-- user id is their hash tag). ARGV: created_at (Unix µs), session id, deadline (Unix ms).
-- Returns 1.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local gone = redis.call('ZRANGE', KEYS[2], '-inf', '(' .. now, 'BYSCORE', 'LIMIT', 0, 100)
if #gone > 0 then
  redis.call('ZREM', KEYS[1], unpack(gone))
  redis.call('ZREM', KEYS[2], unpack(gone))
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
expire_at_least(2, ARGV[3])
return 1
