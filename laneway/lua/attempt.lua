-- Close a failed attempt and open the next one, unless the job finished.
-- KEYS: job
-- ARGV: now, closed attempt json, next attempt json ('' for none)
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return 'missing'
end
if is_finished(status) then
  return status
end
append_attempt(KEYS[1], ARGV[2])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'attempt_open', ARGV[3], 'updated_at', ARGV[1])
else
  redis.call('HDEL', KEYS[1], 'attempt_open')
  redis.call('HSET', KEYS[1], 'updated_at', ARGV[1])
end
return 'ok'
