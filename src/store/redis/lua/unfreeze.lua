-- Undoes freeze.lua (a rotation that could not go on): drops the mark if it is still ours.
-- KEYS[1]: the record. ARGV[1]: the new hash (hex) the mark names.
-- Returns 1 when dropped, 0 otherwise.
if redis.call('HGET', KEYS[1], 'm') == ARGV[1] then
  return redis.call('HDEL', KEYS[1], 'm')
end
return 0
