-- An operator gives a dead-lettered job another go: it goes back to a lane with a
-- fresh deadline, keeping its whole attempt history.
-- KEYS: job, events, final, queue list, dead-letter stream
-- ARGV: push command, task message, event json, dead-letter entry id ('' if unknown),
--       field, value, ...
local fields = redis.call('HMGET', KEYS[1], 'status', 'dead_lettered')
if not fields[1] then
  return 'missing'
end
if fields[1] ~= 'failed' or fields[2] ~= '1' then
  return 'not dead-lettered: ' .. fields[1]
end
if not restore_content(KEYS[1], KEYS[2]) then
  return 'not requeued: its prompt is no longer kept (content_ttl_seconds)'
end
redis.call('HDEL', KEYS[1], 'dead_lettered', 'error', 'error_type', 'error_param', 'finished_at')
redis.call('HSET', KEYS[1], 'status', 'routed', 'deliveries', 0, unpack(ARGV, 5))
redis.call('DEL', KEYS[3])
emit(KEYS[2], 'status', ARGV[3])
redis.call(ARGV[1], KEYS[4], ARGV[2])
track_sent(redis.call('HGET', KEYS[1], 'id'), redis.call('TIME')[1])
if ARGV[4] ~= '' then
  redis.call('XDEL', KEYS[5], ARGV[4])
end
return 'ok'
