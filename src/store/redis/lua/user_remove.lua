-- Removes a session from its user's index, and from the ids being ended.
-- KEYS: the user's ids by created_at, by deadline, being ended. ARGV[1]: the session id.
-- Returns 1.
for i = 1, 3 do
  redis.call('ZREM', KEYS[i], ARGV[1])
end
return 1
