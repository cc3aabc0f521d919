-- Lane spillover: move a job waiting in its lane's queue to another lane that has
-- room, in one step. Several movers may race for the same message: the LREM of its
-- exact text succeeds for one of them only, and a worker that popped it first wins
-- over both. A job that finished, runs, moved already or waits on another message
-- is left alone.
-- KEYS: job, events, source list, target list, target backends' slot sets ...
-- ARGV: waiting message text, its delivery tag, source lane, target lane,
--       target queue, push command, new message text, event json, reason,
--       spillover record json, target max queue depth (0: no limit),
--       backend count n, max_concurrency x n, field, value, ...
-- Returns 'ok', 'skipped' (the job is not waiting on this message), 'full' (the
-- target lane has no free slot beyond the jobs queued there, or its queue is at its
-- max depth) or 'gone' (the message left the list: a worker or another mover took it).
local f = redis.call('HMGET', KEYS[1], 'status', 'lane', 'message_tag', 'spillover', 'reason',
  'id')
if f[1] ~= 'routed' or f[2] ~= ARGV[3] or f[3] ~= ARGV[2] or f[4] then
  return 'skipped'
end
local clock = redis_now()
local limit = tonumber(ARGV[11])
local backends = tonumber(ARGV[12])
local free = 0
for i = 1, backends do
  local busy = redis.call('ZCOUNT', KEYS[4 + i], '(' .. clock, '+inf')
  free = free + math.max(0, tonumber(ARGV[12 + i]) - busy)
end
local depth = queue_depth(ARGV[5])
if free - depth <= 0 or (limit > 0 and depth >= limit) then
  return 'full'
end
if redis.call('LREM', KEYS[3], 1, ARGV[1]) == 0 then
  return 'gone'
end
local why = ARGV[9]
if f[5] and f[5] ~= '' then
  why = f[5] .. '; ' .. why
end
redis.call('HSET', KEYS[1], 'reason', why, 'spillover', ARGV[10], unpack(ARGV, 13 + backends))
emit(KEYS[2], 'status', ARGV[8])
redis.call(ARGV[6], KEYS[4], ARGV[7])
track_sent(f[6], clock)
count('spillover|' .. ARGV[3] .. '|' .. ARGV[4])
return 'ok'
