-- Record the final outcome once; a finished job is never overwritten.
-- KEYS: job, events, final, [dead-letter stream]
-- ARGV: closed attempt json ('' for none), event json, field, value, ...
local refused = refusal(KEYS[1])
if refused then
  return refused
end
if ARGV[1] ~= '' then
  append_attempt(KEYS[1], ARGV[1])
end
redis.call('HDEL', KEYS[1], 'attempt_open')
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
emit(KEYS[2], 'status', ARGV[2])
emit_final(KEYS[1], KEYS[3], ARGV[2])
untrack_sent(KEYS[1])
count_finished(KEYS[1], redis.call('HGET', KEYS[1], 'status'))
if KEYS[4] then
  local job_id = redis.call('HGET', KEYS[1], 'id')
  redis.call('HSET', KEYS[1], 'dead_lettered', 1)
  count('dead_lettered')
  redis.call('XADD', KEYS[4], '*', 'job_id', job_id,
    'error', redis.call('HGET', KEYS[1], 'error') or '', 'at', redis.call('HGET', KEYS[1], 'finished_at'))
end
return 'ok'
