-- Cancel a job that has not finished: it becomes final at once, an attempt in
-- progress is closed as cancelled, and lane workers are told to close the call.
-- KEYS: job, events, final
-- ARGV: now, event json, cancel channel
-- Returns the status before the call ('missing' for an unknown job).
local refused = refusal(KEYS[1])
if refused then
  return refused
end
local status = redis.call('HGET', KEYS[1], 'status')
close_open_attempt(KEYS[1], 'cancelled', ARGV[1])
release(KEYS[1])
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finished_at', ARGV[1], 'updated_at', ARGV[1],
  'error', 'cancelled by the client')
emit(KEYS[2], 'status', ARGV[2])
emit_final(KEYS[1], KEYS[3], ARGV[2])
release_content(KEYS[1], KEYS[2], KEYS[3])
untrack_sent(KEYS[1])
count_finished(KEYS[1], 'cancelled')
if status == 'running' then
  redis.call('PUBLISH', ARGV[3], KEYS[1])
end
return status
