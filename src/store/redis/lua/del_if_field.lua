-- Deletes a hash if one of its fields holds a value.
-- KEYS[1]: the hash. ARGV: the field, the value.
-- Returns 1 when deleted, 0 otherwise.
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0
