-- Reads the JWT revocation entries made at or after a time.
-- KEYS: entries by id (hash), ids by revoked_at (sorted set). ARGV[1]: the lowest score.
-- Returns id, entry, id, entry, ...
local ids = redis.call('ZRANGE', KEYS[2], ARGV[1], '+inf', 'BYSCORE')
local out = {}
local chunk = 500
for first = 1, #ids, chunk do
  local some = {}
  for i = first, math.min(first + chunk - 1, #ids) do
    some[#some + 1] = ids[i]
  end
  local entries = redis.call('HMGET', KEYS[1], unpack(some))
  for i = 1, #some do
    if entries[i] then
      out[#out + 1] = some[i]
      out[#out + 1] = entries[i]
    end
  end
end
return out
