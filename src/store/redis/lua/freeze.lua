-- Rotation, step 1: marks a record as moving to another token hash, so that no write lands on
-- it any more, and returns its fields (the copy to move).
-- KEYS[1]: the record. ARGV: session id, the new hash (hex).
-- Returns the fields (field, value, ...) when marked; -1 when the key holds no record of this
-- session; -2 when another rotation is already moving it.
local f = own_record(KEYS[1], ARGV[1])
if type(f) == 'number' then
  return f
end
redis.call('HSET', KEYS[1], 'm', ARGV[2])
return redis.call('HGETALL', KEYS[1])
