-- Hand a job held by a dead worker (no heartbeat for ``dead_after`` seconds) to
-- its lane again, atomically: only one recoverer wins, and the dead worker, should
-- it wake up, no longer holds the job (its writes are refused, see writer_refusal).
-- Its open attempt is closed as interrupted. kombu's unacknowledged copy of the
-- job's message is dropped, or kombu would deliver it again after the visibility
-- timeout. ``deliveries`` is kept: a job that kills every worker it reaches is
-- dead-lettered after ``retry.max_deliveries``.
-- KEYS: job, events, queue list, kombu's unacked hash, kombu's unacked index
-- ARGV: dead worker, dead_after seconds, job id, push command, task message,
--       event json, field, value, ...
-- Returns 'ok', 'alive' (it heartbeat again) or 'skipped' (it no longer holds the job).
local worker = ARGV[1]
local clock = redis_now()
if is_alive(worker, tonumber(ARGV[2]), clock) then
  return 'alive'
end
local job_id = ARGV[3]
local f = redis.call('HMGET', KEYS[1], 'status', 'worker', 'message_tag')
if f[2] ~= worker or f[1] ~= 'running' then
  -- finished, handed over by another recoverer, or expired: not this worker's any more
  redis.call('SREM', held_key(worker), job_id)
  forget_if_idle(worker)
  return 'skipped'
end
close_open_attempt(KEYS[1], 'interrupted', string.format('%.6f', clock),
  ',"error":"the worker stopped heartbeating"')
if f[3] then
  redis.call('HDEL', KEYS[4], f[3])
  redis.call('ZREM', KEYS[5], f[3])
end
release(KEYS[1])
redis.call('HSET', KEYS[1], 'status', 'routed', unpack(ARGV, 7))
emit(KEYS[2], 'status', ARGV[6])
redis.call(ARGV[4], KEYS[3], ARGV[5])
track_sent(job_id, clock)
forget_if_idle(worker)
return 'ok'
