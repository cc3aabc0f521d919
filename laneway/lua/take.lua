-- Choosing a backend that has room and taking a call slot on it, fleet-wide: shared by
-- slot_take.lua and start.lua (which takes the slot of a job's first call).
-- Each backend's slots are a ZSET of holders scored by lease expiry (Redis's clock);
-- expired holders (a worker killed mid-call) are dropped before counting.
-- Modes (see workers/selection/), among the candidates with a free slot:
--   least    least held/weight; ties at random in proportion to weight
--   ordered  the first, in the order given
--   p2c      two at random, the one with less held/weight
--   wrr      smooth weighted round-robin; the state hash holds each backend's
--            current weight, so the rotation is shared by every worker
--   ewma     least ewma x (held + 1), the state hash holding each backend's latency
--            EWMA in ms (a backend not measured yet counts 0: it is tried first)
-- slot_keys[i], limits[i], weights[i], names[i]: candidate i; r1, r2: random numbers
-- in [0, 1). Returns the 1-based index of the chosen candidate (its slot taken), or
-- 0 when every candidate is full (nothing taken).
local function take_slot(slot_keys, state, lease, token, r1, r2, mode, limits, weights, names)
  local candidates = #limits
  local now = redis_now()
  local function weight(i) return tonumber(weights[i]) end
  local function name(i) return names[i] end
  local open, held = {}, {}
  for i = 1, candidates do
    redis.call('ZREMRANGEBYSCORE', slot_keys[i], '-inf', now)
    held[i] = redis.call('ZCARD', slot_keys[i])
    if held[i] < tonumber(limits[i]) then
      open[#open + 1] = i
      if mode == 'ordered' then
        break
      end
    end
  end
  if #open == 0 then
    return 0
  end

  local pick = open[1]
  if mode == 'least' or mode == 'ewma' then
    local costs = {}
    if mode == 'ewma' then
      for _, i in ipairs(open) do
        costs[i] = (tonumber(redis.call('HGET', state, name(i))) or 0) * (held[i] + 1)
      end
    else
      for _, i in ipairs(open) do
        costs[i] = held[i] / weight(i)
      end
    end
    local best, ties, tie_weight = nil, {}, 0
    for _, i in ipairs(open) do
      if best == nil or costs[i] < best then
        best, ties, tie_weight = costs[i], {i}, weight(i)
      elseif costs[i] == best then
        ties[#ties + 1] = i
        tie_weight = tie_weight + weight(i)
      end
    end
    -- ties go at random in proportion to weight
    pick = ties[#ties]
    local point = r1 * tie_weight
    for _, i in ipairs(ties) do
      point = point - weight(i)
      if point < 0 then
        pick = i
        break
      end
    end
  elseif mode == 'p2c' then
    local first = open[math.floor(r1 * #open) + 1]
    local second = first
    if #open > 1 then
      -- a second draw among the others
      local index = math.floor(r2 * (#open - 1)) + 1
      local others = {}
      for _, i in ipairs(open) do
        if i ~= first then
          others[#others + 1] = i
        end
      end
      second = others[index]
    end
    pick = first
    if held[second] / weight(second) < held[first] / weight(first) then
      pick = second
    end
  elseif mode == 'wrr' then
    local total, best, best_current = 0, nil, nil
    for _, i in ipairs(open) do
      total = total + weight(i)
      local current = tonumber(redis.call('HINCRBYFLOAT', state, name(i), weight(i)))
      if best == nil or current > best_current then
        best, best_current = i, current
      end
    end
    pick = best
    redis.call('HINCRBYFLOAT', state, name(pick), -total)
  end
  redis.call('ZADD', slot_keys[pick], now + lease, token)
  redis.call('PEXPIRE', slot_keys[pick], math.ceil(lease * 2000))
  return pick
end
