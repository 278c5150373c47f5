-- Moves a listed session's deadline later (a touch past its absolute expiry), and the index's.
-- KEYS: the user's ids by created_at, the user's ids by deadline. ARGV: session id, deadline
-- (Unix ms). Returns 1.
redis.call('ZADD', KEYS[2], 'XX', 'GT', ARGV[2], ARGV[1])
for i = 1, 2 do
  redis.call('PEXPIREAT', KEYS[i], ARGV[2], 'GT')
end
return 1
