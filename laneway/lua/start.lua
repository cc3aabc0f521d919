-- A lane worker takes a delivery of the job: check state, count the
-- delivery, close an attempt left open by a worker that died, open a new one.
-- KEYS: job, events
-- ARGV: now, attempt json ('' when no backend is available), event json
-- Returns {status} when the job must not run,
-- else {'ok', request, kind, deliveries, deadline_at, streamed}.
local fields = redis.call('HMGET', KEYS[1], 'status', 'request', 'kind', 'attempt_open',
  'deadline_at', 'streamed')
local status = fields[1]
if not status then
  return {'missing'}
end
if is_finished(status) then
  return {status}
end
local deliveries = redis.call('HINCRBY', KEYS[1], 'deliveries', 1)
-- from here on the message is kombu's unacknowledged one: kombu restores it
untrack_sent(KEYS[1])
if fields[4] then
  local interrupted = string.gsub(fields[4], '"outcome":"running"', '"outcome":"interrupted"', 1)
  append_attempt(KEYS[1], interrupted)
  redis.call('HDEL', KEYS[1], 'attempt_open')
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'attempt_open', ARGV[2])
end
redis.call('HSET', KEYS[1], 'status', 'running', 'updated_at', ARGV[1])
if not redis.call('HGET', KEYS[1], 'started_at') then
  redis.call('HSET', KEYS[1], 'started_at', ARGV[1])
end
if status ~= 'running' then
  emit(KEYS[2], 'status', ARGV[3])
end
return {'ok', fields[2], fields[3], deliveries, fields[5] or '0', fields[6] or '0'}
