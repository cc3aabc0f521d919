-- Extend the leases of the call slots one worker process holds (never re-adds a
-- slot whose lease already lapsed: another worker may have it by now).
-- KEYS: the slot set of each held slot
-- ARGV: lease seconds, then the holder token of each held slot
-- Returns the 1-based indexes of the slots that were lost.
local lease = tonumber(ARGV[1])
local expiry = redis_now() + lease
local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call('ZADD', key, 'XX', 'CH', expiry, ARGV[i + 1]) == 0
      and not redis.call('ZSCORE', key, ARGV[i + 1]) then
    lost[#lost + 1] = i
  else
    redis.call('PEXPIRE', key, math.ceil(lease * 2000))
  end
end
return lost
