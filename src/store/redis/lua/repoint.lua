-- Rotation, step 3: points a session id at its new record, only if it still points at the old.
-- KEYS[1]: the id pointer. ARGV: the old hash, the new hash (hex).
-- Returns 1 when repointed, 0 when the pointer is gone or points elsewhere.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
