-- Record the final outcome once; a finished job is never overwritten.
-- KEYS: job, events, final
-- ARGV: closed attempt json ('' for none), event json, field, value, ...
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return 'missing'
end
if is_finished(status) then
  return status
end
if ARGV[1] ~= '' then
  append_attempt(KEYS[1], ARGV[1])
end
redis.call('HDEL', KEYS[1], 'attempt_open')
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
emit(KEYS[2], 'status', ARGV[2])
emit_final(KEYS[1], KEYS[3], ARGV[2])
return 'ok'
