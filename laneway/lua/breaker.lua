-- Record one call outcome for a backend's circuit breaker, shared by all workers.
-- KEYS: breaker hash, probe lock
-- ARGV: 'failure' | 'success', now, failure threshold
-- Returns the state after the call: closed | open
if ARGV[1] == 'success' then
  redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', 0)
  redis.call('DEL', KEYS[2])
  return 'closed'
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
-- a failed half-open probe, or too many failures in a row, opens (again)
if state == 'open' or failures >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', ARGV[2])
  redis.call('DEL', KEYS[2])
  return 'open'
end
return state
