-- Take a call slot on the least loaded backend of a lane that has room, fleet-wide.
-- Each backend's slots are a ZSET of holders scored by lease expiry (Redis's clock);
-- expired holders (a worker killed mid-call) are dropped before counting.
-- KEYS: the slot set of each candidate backend, then (when ARGV[4] is given) the
--       slot set of a slot to give back first
-- ARGV: lease seconds, holder token, a random number in [0, 1) for ties,
--       token of the slot to give back ('' for none), then per candidate:
--       max_concurrency, weight
-- Returns the 1-based index of the chosen candidate (its slot taken), or 0 when
-- every candidate is full (nothing taken).
local lease = tonumber(ARGV[1])
local candidates = (#ARGV - 4) / 2
local now = redis_now()
if ARGV[4] ~= '' then
  redis.call('ZREM', KEYS[candidates + 1], ARGV[4])
end
local best, ties, tie_weight = nil, {}, 0
for i = 1, candidates do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  local held = redis.call('ZCARD', KEYS[i])
  local limit = tonumber(ARGV[3 + 2 * i])
  local weight = tonumber(ARGV[4 + 2 * i])
  if held < limit then
    local load = held / weight
    if best == nil or load < best then
      best, ties, tie_weight = load, {i}, weight
    elseif load == best then
      ties[#ties + 1] = i
      tie_weight = tie_weight + weight
    end
  end
end
if best == nil then
  return 0
end
-- ties go at random in proportion to weight
local pick = ties[#ties]
local point = tonumber(ARGV[3]) * tie_weight
for _, i in ipairs(ties) do
  point = point - tonumber(ARGV[4 + 2 * i])
  if point < 0 then
    pick = i
    break
  end
end
redis.call('ZADD', KEYS[pick], now + lease, ARGV[2])
redis.call('PEXPIRE', KEYS[pick], math.ceil(lease * 2000))
return pick
