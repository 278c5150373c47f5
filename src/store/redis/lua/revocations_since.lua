-- Reads the JWT revocation entries made at or after a time.
-- KEYS: entries by id (hash), ids by revoked_at (sorted set). ARGV[1]: the lowest score.
-- Returns id, entry, id, entry, ...
local ids = redis.call('ZRANGE', KEYS[2], ARGV[1], '+inf', 'BYSCORE')
local out = {}
in_batches(ids, function(batch)
  local entries = redis.call('HMGET', KEYS[1], unpack(batch))
  for i = 1, #batch do
    if entries[i] then
      out[#out + 1] = batch[i]
      out[#out + 1] = entries[i]
    end
  end
end)
return out
