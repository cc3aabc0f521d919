-- Fold one call's latency into a backend's peak EWMA (fleet-wide): a sample above
-- the average replaces it at once (a slowing backend is avoided immediately), a lower
-- one is blended in with a weight that grows with the time since the last sample.
-- KEYS: the latency hash
-- ARGV: backend name, latency ms, decay seconds
local name, sample, decay = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = redis_now()
local fields = redis.call('HMGET', KEYS[1], name, name .. '|at')
local ewma, at = tonumber(fields[1]), tonumber(fields[2])
if ewma == nil or sample > ewma then
  ewma = sample
else
  local keep = math.exp(-math.max(0, now - (at or now)) / decay)
  ewma = ewma * keep + sample * (1 - keep)
end
redis.call('HSET', KEYS[1], name, ewma, name .. '|at', now)
return tostring(ewma)
