-- Reserves a place for a new session in its user's index, within the device limit: counts the
-- user's listed sessions, takes out of the index those that must end to make room (or refuses),
-- and lists the new one, in one step. The records of the ended sessions live in other slots:
-- the caller deletes them next.
-- KEYS: the user's ids by created_at, the user's ids by deadline (one slot).
-- ARGV: max sessions, refuse (1) or end the least recently used (0), the new id, its
-- created_at (Unix µs), its deadline (Unix ms), the number E of ids the caller saw expired,
-- those E ids (not counted), then the ids the caller saw live, least recently used first.
-- Returns {1, ended id, ...} when listed; {0} when refused (nothing written).
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local gone = redis.call('ZRANGE', KEYS[2], '-inf', '(' .. now, 'BYSCORE', 'LIMIT', 0, 100)
if #gone > 0 then
  redis.call('ZREM', KEYS[1], unpack(gone))
  redis.call('ZREM', KEYS[2], unpack(gone))
end
local max = tonumber(ARGV[1])
local expired = {}
local n_expired = tonumber(ARGV[6])
for i = 7, 6 + n_expired do
  expired[ARGV[i]] = true
end
-- Oldest sign-in first: the order for sessions the caller did not see (created meanwhile).
local listed = redis.call('ZRANGE', KEYS[1], 0, -1)
local counted = {}
for _, id in ipairs(listed) do
  if not expired[id] and id ~= ARGV[3] then
    counted[#counted + 1] = id
  end
end
local ended = {}
local excess = #counted + 1 - max
if excess > 0 then
  if ARGV[2] == '1' then
    return {0}
  end
  local is_counted = {}
  for _, id in ipairs(counted) do
    is_counted[id] = true
  end
  local function finish(id)
    if excess > 0 and is_counted[id] then
      is_counted[id] = nil
      redis.call('ZREM', KEYS[1], id)
      redis.call('ZREM', KEYS[2], id)
      ended[#ended + 1] = id
      excess = excess - 1
    end
  end
  for i = 7 + n_expired, #ARGV do
    finish(ARGV[i])
  end
  for _, id in ipairs(counted) do
    finish(id)
  end
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[3])
expire_at_least(2, ARGV[5])
local reply = {1}
for _, id in ipairs(ended) do
  reply[#reply + 1] = id
end
return reply
