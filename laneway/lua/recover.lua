-- Is a routed job's task message still somewhere? (see track_sent in common.lua)
-- If not, send the message built for it, in the same step.
-- KEYS: job, kombu's unacked hash, kombu's unacked index, sent set, events, queue list
-- ARGV: job id, now, longest list to scan, grace seconds, lane the message is for,
--       push command, task message, event json, field, value, ...
-- Returns 'gone' (not waiting for a worker any more), 'changed' (its lane changed
-- meanwhile: look again), 'waiting' (still in its list), 'reserved' (a worker
-- took it moments ago) or 'resent': it was nowhere (a worker took it and died
-- before kombu recorded it), or a worker has held it for longer than the grace
-- without starting it (it died holding it: kombu would restore it only after
-- the visibility timeout; its unacknowledged copy is dropped).
local now = tonumber(ARGV[2])
local f = redis.call('HMGET', KEYS[1], 'status', 'message_tag', 'message_key', 'lane')
if f[1] ~= 'routed' or not f[2] or not f[3] then
  redis.call('ZREM', KEYS[4], ARGV[1])
  return 'gone'
end
if f[4] ~= ARGV[5] then
  return 'changed'
end
if redis.call('HEXISTS', KEYS[2], f[2]) == 1 then
  local reserved_at = redis.call('ZSCORE', KEYS[3], f[2])
  if not reserved_at or now - tonumber(reserved_at) < tonumber(ARGV[4]) then
    redis.call('ZADD', KEYS[4], now, ARGV[1])
    return 'reserved'
  end
  redis.call('HDEL', KEYS[2], f[2])
  redis.call('ZREM', KEYS[3], f[2])
else
  local length = redis.call('LLEN', f[3])
  if length > tonumber(ARGV[3]) then
    -- a long backlog: too costly to scan; look again later
    redis.call('ZADD', KEYS[4], now, ARGV[1])
    return 'waiting'
  end
  for _, item in ipairs(redis.call('LRANGE', f[3], 0, -1)) do
    if string.find(item, f[2], 1, true) then
      redis.call('ZADD', KEYS[4], now, ARGV[1])
      return 'waiting'
    end
  end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 9))
emit(KEYS[5], 'status', ARGV[8])
redis.call(ARGV[6], KEYS[6], ARGV[7])
track_sent(ARGV[1], now)
return 'resent'
