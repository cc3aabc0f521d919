-- A lane worker takes a delivery of the job: check state, count the delivery,
-- take the job over from a worker that died (its open attempt is closed as
-- interrupted), open a new attempt and record which worker instance holds it.
-- With a slot to take (ARGV[6], see SlotTake in store.py), the backend of the first
-- call is chosen and its slot taken here too (take.lua), in the same round trip.
-- KEYS: job, events, then with a slot to take: each candidate's slot set, and the
--       balancing state hash for the modes that have one
-- ARGV: now, attempt json ('' when no backend is available), event json,
--       owner (worker instance, '' for none), seconds without a heartbeat after
--       which a worker counts as dead, slot to take (json, '' for none),
--       field, value, ... (recorded as given)
-- Returns {status} when the job must not run ('running' while a live worker
-- holds it: a duplicate delivery), {'full'} when no candidate had a free slot
-- (nothing written), else
-- {'ok', request, kind, deliveries, deadline_at, streamed, expired, slot, tenant};
-- past its deadline ('expired' = 1) no attempt is opened and no slot taken; 'slot'
-- is the 1-based candidate whose slot was taken (0 for none).
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
local expired = fields[5] and tonumber(fields[5]) <= tonumber(ARGV[1])
local attempt, slot = ARGV[2], 0
if ARGV[6] ~= '' and not expired then
  local take = cjson.decode(ARGV[6])
  local slot_keys = {}
  for i = 1, #take.names do
    slot_keys[i] = KEYS[2 + i]
  end
  slot = take_slot(slot_keys, KEYS[3 + #take.names], take.lease, take.token, take.r[1],
    take.r[2], take.mode, take.limits, take.weights, take.names)
  if slot == 0 then
    return {'full'}
  end
  attempt = take.attempts[slot]
end
local deliveries = redis.call('HINCRBY', KEYS[1], 'deliveries', 1)
-- from here on the message is kombu's unacknowledged one: kombu restores it
untrack_sent(KEYS[1])
if holder and holder ~= owner then
  redis.call('SREM', held_key(holder), fields[8])
end
close_open_attempt(KEYS[1], 'interrupted', ARGV[1])
if attempt ~= '' and not expired then
  redis.call('HSET', KEYS[1], 'attempt_open', attempt)
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
if #ARGV > 6 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 7))
end
if not redis.call('HGET', KEYS[1], 'started_at') then
  -- the first time a lane worker takes the job: its queue wait
  local first = redis.call('HMGET', KEYS[1], 'created_at', 'lane')
  local wait = tonumber(ARGV[1]) - (tonumber(first[1] or '') or tonumber(ARGV[1]))
  redis.call('HSET', KEYS[1], 'started_at', ARGV[1], 'queue_wait_ms',
    math.floor(math.max(wait, 0) * 100000 + 0.5) / 100)
  observe('queue_wait_seconds', first[2] or '', wait)
end
if status ~= 'running' then
  emit(KEYS[2], 'status', ARGV[3])
end
return {'ok', fields[2], fields[3], deliveries, fields[5] or '0', fields[6] or '0',
  expired and 1 or 0, slot, fields[9] or ''}
