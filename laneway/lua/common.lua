-- Shared helpers, prepended to every laneway script.
local function is_finished(status)
  return status == 'succeeded' or status == 'failed' or status == 'cancelled'
end

-- Why a job must not change any more ('missing' or its final status), else nil.
local function refusal(job_key)
  local status = redis.call('HGET', job_key, 'status')
  if not status then
    return 'missing'
  end
  if is_finished(status) then
    return status
  end
  return nil
end

-- Attempts live in one JSON array field; appending by string keeps this O(1)
-- in Lua and needs no cjson round trip (attempts are produced by json.dumps).
local function append_attempt(job_key, attempt)
  local list = redis.call('HGET', job_key, 'attempts')
  if not list or list == '' or list == '[]' then
    list = '[' .. attempt .. ']'
  else
    list = string.sub(list, 1, -2) .. ',' .. attempt .. ']'
  end
  redis.call('HSET', job_key, 'attempts', list)
end

local function emit(events_key, kind, data)
  return redis.call('XADD', events_key, 'MAXLEN', '~', 2000, '*', 'type', kind, 'data', data)
end

-- The one "it is over" entry a waiter for the result blocks on: waiting on the
-- full event stream would wake the waiter at every status change.
-- The entry carries what an answer needs (see Outcome in store.py), so a waiter
-- can answer without another read.
local OUTCOME = {'status', 'result', 'lane', 'backend', 'error', 'error_type', 'usage', 'model',
  'finished_at', 'error_param'}

local function emit_final(job_key, final_key, data)
  local values = redis.call('HMGET', job_key, unpack(OUTCOME))
  local entry = {'type', 'status', 'data', data}
  for i, name in ipairs(OUTCOME) do
    if values[i] then
      entry[#entry + 1] = name
      entry[#entry + 1] = values[i]
    end
  end
  redis.call('XADD', final_key, 'MAXLEN', 1, '*', unpack(entry))
  local ttl = redis.call('PTTL', job_key)
  if ttl > 0 then
    redis.call('PEXPIRE', final_key, ttl)
  end
end

-- Cluster-wide counters for /metrics, kept in one hash (no extra round trip).
local function count(field)
  redis.call('HINCRBY', 'laneway:stats', field, 1)
end

local function count_finished(job_key, status)
  local where = redis.call('HMGET', job_key, 'lane', 'backend', 'cost')
  local lane, backend = where[1] or '', where[2] or ''
  count('finished|' .. status .. '|' .. lane .. '|' .. backend)
  if where[3] then
    redis.call('HINCRBYFLOAT', 'laneway:stats', 'cost|' .. lane .. '|' .. backend, where[3])
  end
end

-- Jobs whose lane task is on its way to a worker, by when it was sent. The
-- lost-message sweeper looks here: kombu pops a message (BRPOP) before it
-- records it as unacknowledged, so a worker killed in between loses it.
local function track_sent(job_id, at)
  redis.call('ZADD', 'laneway:sent', at, job_id)
end

local function untrack_sent(job_key)
  local job_id = redis.call('HGET', job_key, 'id')
  if job_id then
    redis.call('ZREM', 'laneway:sent', job_id)
  end
end
