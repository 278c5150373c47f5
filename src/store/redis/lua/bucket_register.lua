-- Lists a new bucket of the expiry index in the list of buckets, and forgets the buckets that
-- Redis has already expired (those whose deadline is past by Redis's own clock, the clock that
-- expired them).
-- KEYS[1]: the list of buckets (a sorted set: bucket number scored by its deadline).
-- ARGV: the bucket number, its deadline (Unix ms). Returns 1.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
expire_at_least(1, ARGV[2])
return 1
