-- Hand a running job on: to another lane (fallback, larger context) or back to
-- its own lane after a countdown (every backend cooling down). The message is
-- pushed in the same step, so the job is never left without a task.
-- KEYS: job, events, queue list
-- ARGV: push command, task message, event json, closed attempt json ('' for none),
--       countdown seconds, owner ('' for no check), field, value, ...
local refused = writer_refusal(KEYS[1], ARGV[6], false)
if refused then
  return refused
end
if ARGV[4] ~= '' then
  append_attempt(KEYS[1], ARGV[4])
  observe_attempt(KEYS[1], ARGV[4])
end
redis.call('HDEL', KEYS[1], 'attempt_open')
release(KEYS[1])
local from_lane = redis.call('HGET', KEYS[1], 'lane') or ''
-- deliveries counts deliveries of the current message: a fresh one starts at 0
redis.call('HSET', KEYS[1], 'status', 'routed', 'deliveries', 0, unpack(ARGV, 7))
local to_lane = redis.call('HGET', KEYS[1], 'lane') or ''
if to_lane ~= from_lane then
  count('fallbacks|' .. from_lane .. '|' .. to_lane)
elseif tonumber(ARGV[5]) > 0 then
  count('deferrals|' .. to_lane)
end
emit(KEYS[2], 'status', ARGV[3])
redis.call(ARGV[1], KEYS[3], ARGV[2])
-- a countdown message only reaches a worker after its countdown
track_sent(redis.call('HGET', KEYS[1], 'id'), tonumber(redis.call('TIME')[1]) + tonumber(ARGV[5]))
return 'ok'
