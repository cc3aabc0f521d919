-- Close a failed attempt and open the next one, unless the job finished or
-- another worker holds it now.
-- KEYS: job
-- ARGV: now, closed attempt json, next attempt json ('' for none), owner ('' for no check)
local refused = writer_refusal(KEYS[1], ARGV[4] or '', false)
if refused then
  return refused
end
append_attempt(KEYS[1], ARGV[2])
-- a failed call, and another one about to start: a retry
local failed = observe_attempt(KEYS[1], ARGV[2])
if failed then
  count('retries|' .. tostring(failed.lane) .. '|' .. tostring(failed.backend))
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'attempt_open', ARGV[3], 'updated_at', ARGV[1])
else
  redis.call('HDEL', KEYS[1], 'attempt_open')
  redis.call('HSET', KEYS[1], 'updated_at', ARGV[1])
end
return 'ok'
