-- Deletes a string key if it holds a value.
-- KEYS[1]: the key. ARGV[1]: the value.
-- Returns 1 when deleted, 0 otherwise.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
