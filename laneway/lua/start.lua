-- A lane worker takes a delivery of the job: check state, count the delivery,
-- take the job over from a worker that died (its open attempt is closed as
-- interrupted), open a new attempt and record which worker instance holds it.
-- KEYS: job, events
-- ARGV: now, attempt json ('' when no backend is available), event json,
--       owner (worker instance, '' for none), seconds without a heartbeat after
--       which a worker counts as dead, field, value, ... (recorded as given)
-- Returns {status} when the job must not run ('running' while a live worker
-- holds it: a duplicate delivery), else
-- {'ok', request, kind, deliveries, deadline_at, streamed, expired, tenant}; past its
-- deadline ('expired' = 1) no attempt is opened.
local fields = redis.call('HMGET', KEYS[1], 'status', 'request', 'kind', 'attempt_open',
  'deadline_at', 'streamed', 'worker', 'id', 'tenant')
local status = fields[1]
if not status then
  return {'missing'}
end
if is_finished(status) then
  return {status}
end
local owner = ARGV[4]
local holder = fields[7]
local clock = redis_now()
if status == 'running' and holder and holder ~= owner
    and is_alive(holder, tonumber(ARGV[5]), clock) then
  return {'running'}
end
local deliveries = redis.call('HINCRBY', KEYS[1], 'deliveries', 1)
-- from here on the message is kombu's unacknowledged one: kombu restores it
untrack_sent(KEYS[1])
if holder and holder ~= owner then
  redis.call('SREM', held_key(holder), fields[8])
end
close_open_attempt(KEYS[1], 'interrupted', ARGV[1])
local expired = fields[5] and tonumber(fields[5]) <= tonumber(ARGV[1])
if ARGV[2] ~= '' and not expired then
  redis.call('HSET', KEYS[1], 'attempt_open', ARGV[2])
end
redis.call('HSET', KEYS[1], 'status', 'running', 'updated_at', ARGV[1])
if owner ~= '' then
  redis.call('HSET', KEYS[1], 'worker', owner)
  redis.call('SADD', held_key(owner), fields[8])
  -- the owner is alive now, whatever its heartbeat thread managed last
  redis.call('ZADD', HEARTBEATS, clock, owner)
elseif holder then
  redis.call('HDEL', KEYS[1], 'worker')
end
if #ARGV > 5 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 6))
end
if not redis.call('HGET', KEYS[1], 'started_at') then
  redis.call('HSET', KEYS[1], 'started_at', ARGV[1])
end
if status ~= 'running' then
  emit(KEYS[2], 'status', ARGV[3])
end
return {'ok', fields[2], fields[3], deliveries, fields[5] or '0', fields[6] or '0',
  expired and 1 or 0, fields[9] or ''}
