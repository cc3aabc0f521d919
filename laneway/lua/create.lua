-- Create a job and enqueue its first task atomically: a job never exists
-- without its task, and a task never exists without its job.
-- KEYS: job, events, tenant index, queue list, classify deadlines, final, [idempotency key]
-- ARGV: job id, ttl, now, push command, task message, event json,
--       classify deadline ('' when the job skips the classifier),
--       max queue depth (0: no limit), request digest ('' without a key),
--       field, value, ...
-- Returns {1, job id, first event id}; {0, existing job id, '0-0'} for a known
-- idempotency key and the same request; {-2, existing job id, '0-0'} for a known key
-- and another request; {-1, job id, queue depth} when the queue is full (nothing written
-- but a short-lived final entry, so that a read pipelined behind this returns).
-- The idempotency key holds '<job id> <request digest>'.
local ttl = tonumber(ARGV[2])
if KEYS[7] then
  local existing = redis.call('GET', KEYS[7])
  if existing then
    local job_id, digest = string.match(existing, '^(%S+) ?(%S*)$')
    if digest ~= '' and digest ~= ARGV[9] then
      return {-2, job_id, '0-0'}
    end
    return {0, job_id, '0-0'}
  end
end
local max_depth = tonumber(ARGV[8])
if max_depth > 0 then
  local depth = redis.call('LLEN', KEYS[4])
  if depth >= max_depth then
    redis.call('XADD', KEYS[6], 'MAXLEN', 1, '*', 'type', 'status', 'data',
      '{"status":"rejected"}', 'status', 'rejected')
    redis.call('EXPIRE', KEYS[6], 60)
    count('rejected')
    return {-1, ARGV[1], depth}
  end
end
if KEYS[7] then
  redis.call('SET', KEYS[7], ARGV[1] .. ' ' .. ARGV[9], 'EX', ttl)
end
redis.call('HSET', KEYS[1], unpack(ARGV, 10))
redis.call('EXPIRE', KEYS[1], ttl)
local event_id = emit(KEYS[2], 'status', ARGV[6])
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', tonumber(ARGV[3]) - ttl)
-- the tenant's index keeps its newest 10000 jobs, whatever the rate
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -10001)
redis.call('EXPIRE', KEYS[3], ttl)
if ARGV[7] ~= '' then
  -- if no classifier routes the job by then, the watchdog sends it to general
  redis.call('ZADD', KEYS[5], ARGV[7], ARGV[1])
end
redis.call(ARGV[4], KEYS[4], ARGV[5])
if ARGV[7] == '' then
  -- a route forced by the client: routed at once, counted like a classifier decision
  track_sent(ARGV[1], ARGV[3])
  local forced = redis.call('HMGET', KEYS[1], 'lane', 'strategy')
  count('routed|' .. (forced[1] or '') .. '|' .. (forced[2] or ''))
end
count('submitted')
return {1, ARGV[1], event_id}
