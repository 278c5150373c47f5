-- Adds a member to an index (a sorted set) and makes the index live at least until a deadline.
-- KEYS[1]: the index. ARGV: score, member, deadline (Unix ms).
-- The index's expiry only ever moves later (the first PEXPIREAT sets it on a new key, the second
-- extends it), so it outlives every session it lists. Returns 1 when the index was created by
-- this call, 0 when it existed.
local created = redis.call('EXISTS', KEYS[1]) == 0
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
expire_at_least(1, ARGV[3])
if created then
  return 1
end
return 0
