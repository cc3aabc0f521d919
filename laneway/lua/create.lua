-- Create a job and enqueue its first task atomically: a job never exists
-- without its task, and a task never exists without its job.
-- KEYS: job, events, tenant index, queue list, classify deadlines, final, [idempotency key]
-- ARGV: job id, ttl, now, push command, task message, event json,
--       classify deadline ('' when the job skips the classifier),
--       depth limits json ('' for none: see below), request digest ('' without a key),
--       field, value, ...
-- Returns {1, job id, first event id}; {0, existing job id, '0-0'} for a known
-- idempotency key and the same request; {-2, existing job id, '0-0'} for a known key
-- and another request; {-1, job id, depth, full queue ('' for every lane)} when refused.
-- The idempotency key holds '<job id> <request digest>'.
-- Depth limits: {queue, limit, lanes, wake}. Refused when `queue` holds `limit` (> 0) jobs
-- (every priority sub-list counted), or, with `lanes` ([[queue, limit], ...]: a job
-- the classifier has yet to place), when the jobs already waiting for the classifier
-- would take all the room those lanes have. A refusal writes nothing, except with
-- `wake`: a short-lived final entry, so that a read pipelined behind this returns.
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
if ARGV[8] ~= '' then
  local limits = cjson.decode(ARGV[8])
  local full, depth = nil, queue_depth(limits.queue)
  if limits.limit > 0 and depth >= limits.limit then
    full = limits.queue
  elseif limits.lanes then
    local room = 0
    for _, lane in ipairs(limits.lanes) do
      room = room + math.max(0, lane[2] - queue_depth(lane[1]))
    end
    depth = redis.call('ZCARD', KEYS[5])
    if room <= depth then
      full = ''
    end
  end
  if full then
    if limits.wake then
      redis.call('XADD', KEYS[6], 'MAXLEN', 1, '*', 'type', 'status', 'data',
        '{"status":"rejected"}', 'status', 'rejected')
      redis.call('EXPIRE', KEYS[6], 60)
    end
    count('rejected')
    return {-1, ARGV[1], depth, full}
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
