-- Moves a listed session's deadline later (a touch past its absolute expiry), and the index's.
-- KEYS: the user's ids by created_at, by deadline, being ended. ARGV: session id, deadline
-- (Unix ms). Returns 1.
redis.call('ZADD', KEYS[2], 'XX', 'GT', ARGV[2], ARGV[1])
local ending = redis.call('ZADD', KEYS[3], 'XX', 'GT', 'CH', ARGV[2], ARGV[1]) == 1
for i = 1, ending and 3 or 2 do
  redis.call('PEXPIREAT', KEYS[i], ARGV[2], 'GT')
end
return 1
