-- Record the classifier's decision and publish the lane task, once.
-- KEYS: job, events, lane queue list, classify deadlines
-- ARGV: push command, task message, event json, job id, field, value, ...
redis.call('ZREM', KEYS[4], ARGV[4])
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return 'missing'
end
if status ~= 'queued' then
  return status
end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
emit(KEYS[2], 'status', ARGV[3])
local decided = redis.call('HMGET', KEYS[1], 'lane', 'strategy')
count('routed|' .. (decided[1] or '') .. '|' .. (decided[2] or ''))
redis.call(ARGV[1], KEYS[3], ARGV[2])
track_sent(ARGV[4], redis.call('TIME')[1])
return 'ok'
