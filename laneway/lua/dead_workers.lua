-- Workers whose last heartbeat is ``dead_after`` seconds old or more, by Redis's
-- clock. Those that hold no job are forgotten here; the others are returned, for
-- their jobs to be handed over (handover.lua forgets them after the last one).
-- KEYS: heartbeats
-- ARGV: dead_after seconds, most workers to return
local clock = redis_now()
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', clock - tonumber(ARGV[1]),
  'LIMIT', 0, tonumber(ARGV[2]))
local holding = {}
for _, worker in ipairs(stale) do
  forget_if_idle(worker)
  if redis.call('SCARD', held_key(worker)) > 0 then
    holding[#holding + 1] = worker
  end
end
return holding
