-- Create a job and enqueue its first task atomically: a job never exists
-- without its task, and a task never exists without its job.
-- KEYS: job, events, tenant index, queue list, classify deadlines, [idempotency key]
-- ARGV: job id, ttl, now, push command, task message, event json,
--       classify deadline ('' when the job skips the classifier), field, value, ...
local ttl = tonumber(ARGV[2])
if KEYS[6] then
  local existing = redis.call('GET', KEYS[6])
  if existing then
    return {0, existing, '0-0'}
  end
  redis.call('SET', KEYS[6], ARGV[1], 'EX', ttl)
end
redis.call('HSET', KEYS[1], unpack(ARGV, 8))
redis.call('EXPIRE', KEYS[1], ttl)
local event_id = emit(KEYS[2], 'status', ARGV[6])
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', tonumber(ARGV[3]) - ttl)
redis.call('EXPIRE', KEYS[3], ttl)
if ARGV[7] ~= '' then
  -- if no classifier routes the job by then, the watchdog sends it to general
  redis.call('ZADD', KEYS[5], ARGV[7], ARGV[1])
end
redis.call(ARGV[4], KEYS[4], ARGV[5])
if ARGV[7] == '' then
  track_sent(ARGV[1], ARGV[3])
end
count('submitted')
return {1, ARGV[1], event_id}
