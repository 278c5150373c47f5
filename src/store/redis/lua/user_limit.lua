-- Reserves a place for a new session in its user's index, within the device limit: counts the
-- user's listed sessions, marks those that must end to make room as being ended (or refuses),
-- and lists the new one, in one step. A session being ended stays listed, so that revoke-all
-- and the list find it until its record is deleted, but is not counted again. The records live
-- in other slots: the caller deletes them next, and every later call hands the ones still
-- listed back, so that a deletion that failed is done then.
-- KEYS: the user's ids by created_at, by deadline, being ended (one slot).
-- ARGV: max sessions, refuse (1) or end the least recently used (0), the new id, its
-- created_at (Unix µs), its deadline (Unix ms), the number E of ids the caller saw expired,
-- those E ids (not counted), then the ids the caller saw live, least recently used first.
-- Returns {1 when listed or 0 when refused (the new id not listed), then the ids this call
-- marked, then the ids marked earlier and still listed}.
forget_expired_sessions()
local ending = {}
local unfinished = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  if redis.call('ZSCORE', KEYS[1], id) then
    ending[id] = true
    unfinished[#unfinished + 1] = id
  else
    redis.call('ZREM', KEYS[3], id)
  end
end
local max = tonumber(ARGV[1])
local expired = {}
local n_expired = tonumber(ARGV[6])
for i = 7, 6 + n_expired do
  expired[ARGV[i]] = true
end
-- Oldest sign-in first: the order for sessions the caller did not see (created meanwhile).
local counted = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if not expired[id] and not ending[id] and id ~= ARGV[3] then
    counted[#counted + 1] = id
  end
end
local function answer(code, marked)
  local reply = {code}
  for _, id in ipairs(marked) do
    reply[#reply + 1] = id
  end
  for _, id in ipairs(unfinished) do
    reply[#reply + 1] = id
  end
  return reply
end
local marked = {}
local excess = #counted + 1 - max
if excess > 0 then
  if ARGV[2] == '1' then
    return answer(0, marked)
  end
  local is_counted = {}
  for _, id in ipairs(counted) do
    is_counted[id] = true
  end
  local function mark(id)
    if excess > 0 and is_counted[id] then
      is_counted[id] = nil
      local deadline = redis.call('ZSCORE', KEYS[2], id) or ARGV[5]
      redis.call('ZADD', KEYS[3], deadline, id)
      redis.call('PEXPIREAT', KEYS[3], deadline, 'NX')
      redis.call('PEXPIREAT', KEYS[3], deadline, 'GT')
      marked[#marked + 1] = id
      excess = excess - 1
    end
  end
  for i = 7 + n_expired, #ARGV do
    mark(ARGV[i])
  end
  for _, id in ipairs(counted) do
    mark(id)
  end
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[3])
expire_at_least(2, ARGV[5])
return answer(1, marked)
