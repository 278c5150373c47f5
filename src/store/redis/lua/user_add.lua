-- Lists a session in its user's index, and forgets the user's sessions whose keys Redis has
-- already expired.
-- KEYS: the user's ids by created_at, by deadline, being ended (sorted sets, one slot: the user
-- tag is their hash tag). ARGV: created_at (Unix µs), session id, deadline (Unix ms).
-- Returns 1.
forget_expired_sessions()
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
expire_at_least(2, ARGV[3])
return 1
