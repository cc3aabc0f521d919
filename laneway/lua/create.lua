-- Create a job and enqueue its first task atomically: a job never exists
-- without its task, and a task never exists without its job.
-- KEYS: job, events, tenant index, queue list, [idempotency key]
-- ARGV: job id, ttl, now, push command, task message, event json, field, value, ...
local ttl = tonumber(ARGV[2])
if KEYS[5] then
  local existing = redis.call('GET', KEYS[5])
  if existing then
    return {0, existing, '0-0'}
  end
  redis.call('SET', KEYS[5], ARGV[1], 'EX', ttl)
end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
redis.call('EXPIRE', KEYS[1], ttl)
local event_id = emit(KEYS[2], 'status', ARGV[6])
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', tonumber(ARGV[3]) - ttl)
redis.call('EXPIRE', KEYS[3], ttl)
redis.call(ARGV[4], KEYS[4], ARGV[5])
return {1, ARGV[1], event_id}
