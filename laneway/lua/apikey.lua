-- Look up the API key a client presented, by its SHA-256, and note that it was
-- used, in one round trip.
-- KEYS: the key's record, the index of every stored key
-- ARGV: now
-- Returns {1 when any key was ever stored else 0, the record as a flat list (empty
-- when the presented key is not a stored one)}
local record = redis.call('HGETALL', KEYS[1])
if #record > 0 and redis.call('HEXISTS', KEYS[1], 'revoked_at') == 0 then
  redis.call('HSET', KEYS[1], 'last_used_at', ARGV[1])
end
return {redis.call('EXISTS', KEYS[2]), record}
