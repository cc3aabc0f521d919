-- Record the final outcome once; a finished job is never overwritten, and a
-- worker that no longer holds the job (it was handed over) cannot finish it.
-- KEYS: job, events, final, [dead-letter stream]
-- ARGV: owner ('' for no check), '1' to accept a job no worker holds,
--       status the job must have ('' for any unfinished one),
--       closed attempt json ('' to close a still-open one here),
--       outcome of a still-open attempt, JSON fragment added to it (',"k":v' or ''),
--       now, event json, field, value, ...
local refused = writer_refusal(KEYS[1], ARGV[1], ARGV[2] == '1')
if refused then
  return refused
end
if ARGV[3] ~= '' then
  local status = redis.call('HGET', KEYS[1], 'status')
  if status ~= ARGV[3] then
    return status
  end
end
if ARGV[4] ~= '' then
  append_attempt(KEYS[1], ARGV[4])
  observe_attempt(KEYS[1], ARGV[4])
  redis.call('HDEL', KEYS[1], 'attempt_open')
else
  close_open_attempt(KEYS[1], ARGV[5], ARGV[7], ARGV[6])
end
release(KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 9))
emit(KEYS[2], 'status', ARGV[8])
emit_final(KEYS[1], KEYS[3], ARGV[8])
release_content(KEYS[1], KEYS[2], KEYS[3])
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
