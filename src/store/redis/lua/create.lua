-- Creates a session record; never overwrites one.
-- KEYS[1]: the record. ARGV[1]: its expiry deadline (Unix ms); ARGV[2..]: field, value, ...
-- Returns 1 when created, 0 when the key exists.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
