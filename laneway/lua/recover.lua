-- Is a routed job's task message still somewhere? (see track_sent in common.lua)
-- KEYS: job, kombu's unacked hash, sent set
-- ARGV: job id, now, longest list to scan
-- Returns 'gone' (not waiting for a worker any more), 'reserved' (a worker holds
-- it; kombu restores it if that worker dies), 'waiting' (still in its list) or
-- 'lost' (nowhere: a worker took it and died before kombu recorded it).
local f = redis.call('HMGET', KEYS[1], 'status', 'message_tag', 'message_key')
if f[1] ~= 'routed' or not f[2] or not f[3] then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 'gone'
end
if redis.call('HEXISTS', KEYS[2], f[2]) == 1 then
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
  return 'reserved'
end
local length = redis.call('LLEN', f[3])
if length > tonumber(ARGV[3]) then
  -- a long backlog: too costly to scan; look again later
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
  return 'waiting'
end
for _, item in ipairs(redis.call('LRANGE', f[3], 0, -1)) do
  if string.find(item, f[2], 1, true) then
    redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
    return 'waiting'
  end
end
return 'lost'
