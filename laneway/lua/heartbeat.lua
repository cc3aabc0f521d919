-- A worker's heartbeat: stamped with Redis's clock in the liveness set (what
-- recovery judges by), and announced with its role for readiness checks.
-- KEYS: heartbeats, workers
-- ARGV: worker instance, announcement json ('' for liveness only), 'leave' to sign off
if ARGV[3] == 'leave' then
  redis.call('HDEL', KEYS[2], ARGV[1])
  -- a worker leaving with jobs still held stays, to go stale and be recovered
  forget_if_idle(ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[1], redis_now(), ARGV[1])
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
return 1
