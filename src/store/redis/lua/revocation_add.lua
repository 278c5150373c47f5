-- Adds an entry to the JWT revocation list, unless one with its id exists.
-- KEYS: entries by id (hash), ids by revoked_at, ids by expires_at (sorted sets), one slot.
-- ARGV: id, entry, revoked_at score, expires_at score, deadline (Unix ms).
-- Returns 1 when added, 0 when the id exists.
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
expire_at_least(3, ARGV[5])
return 1
