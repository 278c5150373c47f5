-- Removes a session from its user's index.
-- KEYS: the user's ids by created_at, the user's ids by deadline. ARGV[1]: the session id.
-- Returns 1.
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
