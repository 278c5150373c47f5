-- Deletes at most a batch of JWT revocation entries that expired at or before a time.
-- KEYS: entries by id (hash), ids by revoked_at, ids by expires_at (sorted sets).
-- ARGV: the time's score, the batch size. Returns how many were deleted.
local ids = redis.call('ZRANGE', KEYS[3], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, ARGV[2])
in_batches(ids, function(batch)
  redis.call('HDEL', KEYS[1], unpack(batch))
  redis.call('ZREM', KEYS[2], unpack(batch))
  redis.call('ZREM', KEYS[3], unpack(batch))
end)
return #ids
