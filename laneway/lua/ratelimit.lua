-- Admit one request against an API key's limits, atomically, so that every API
-- replica shares them: requests and tokens per minute are buckets that refill
-- continuously over a minute (as OpenAI's do), the monthly quota is a counter per
-- calendar month. Nothing is written unless every limit admits the request.
-- KEYS: requests bucket, tokens bucket, this month's token counter
-- ARGV: requests per minute, tokens per minute, monthly tokens (0: no such limit),
--       tokens the request counts, when this month's counter may expire (unix s),
--       '1' to only report where the limits stand (nothing checked, nothing taken)
-- Returns {verdict, requests left, ms until the requests bucket is full again,
--          tokens left, ms until the tokens bucket is full again,
--          ms to wait before a retry can pass (0 when admitted), tokens used this month}
-- verdict: 'ok', 'requests', 'tokens', 'too_large' (more tokens than a minute's
-- limit: waiting cannot help), 'monthly'
local WINDOW = 60000
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local rpm, tpm, monthly = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cost = tonumber(ARGV[4])

local function level(key, limit)
  if limit <= 0 then
    return 0
  end
  local state = redis.call('HMGET', key, 'level', 'at')
  local value, at = tonumber(state[1]), tonumber(state[2])
  if not value or not at then
    return limit
  end
  return math.min(limit, value + math.max(0, now - at) * limit / WINDOW)
end

local function ms_until(have, need, limit)
  if limit <= 0 or have >= need then
    return 0
  end
  return math.ceil((need - have) * WINDOW / limit)
end

local function take(key, left)
  redis.call('HSET', key, 'level', tostring(left), 'at', now)
  -- a bucket left alone for a minute is full again: the same as no bucket
  redis.call('PEXPIRE', key, WINDOW)
end

local requests = level(KEYS[1], rpm)
local tokens = level(KEYS[2], tpm)
local used = 0
if monthly > 0 then
  used = tonumber(redis.call('GET', KEYS[3]) or '0')
end

local verdict, wait = 'ok', 0
if ARGV[6] == '1' then
  verdict = 'peek'
elseif rpm > 0 and requests < 1 then
  verdict, wait = 'requests', ms_until(requests, 1, rpm)
elseif tpm > 0 and cost > tpm then
  verdict = 'too_large'
elseif tpm > 0 and tokens < cost then
  verdict, wait = 'tokens', ms_until(tokens, cost, tpm)
elseif monthly > 0 and used + cost > monthly then
  verdict = 'monthly'
end

if verdict == 'ok' then
  if rpm > 0 then
    requests = requests - 1
    take(KEYS[1], requests)
  end
  if tpm > 0 then
    tokens = tokens - cost
    take(KEYS[2], tokens)
  end
  if monthly > 0 then
    used = redis.call('INCRBY', KEYS[3], cost)
    redis.call('EXPIREAT', KEYS[3], ARGV[5])
  end
end

return {verdict, math.floor(requests), ms_until(requests, rpm, rpm), math.floor(tokens),
  ms_until(tokens, tpm, tpm), wait, used}
