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
local STATS = 'laneway:stats'
local HISTOGRAMS = 'laneway:hist'

local function count(field, by)
  redis.call('HINCRBY', STATS, field, by or 1)
end

-- An integer HINCRBY accepts: Lua writes numbers past 1e14 as '1e+15', and an
-- error here, after the job's final write, would lose its counts.
local function whole(x)
  x = tonumber(x) or 0
  if x ~= x or x < 0 then
    return 0
  end
  return math.floor(math.min(x, 1e13) + 0.5)
end

-- One duration into a histogram of laneway/histograms.py (BUCKETS is generated
-- there and prepended to every script): its bucket, and its sum in microseconds.
local function observe(metric, labels, seconds)
  if not seconds then
    return
  end
  if seconds < 0 then
    seconds = 0 -- two machines' clocks: never a negative duration
  end
  local le = '+Inf'
  for _, bound in ipairs(BUCKETS[metric]) do
    if seconds <= bound then
      le = string.format('%g', bound)
      break
    end
  end
  local prefix = metric .. '|' .. labels .. '|'
  redis.call('HINCRBY', HISTOGRAMS, prefix .. le, 1)
  redis.call('HINCRBY', HISTOGRAMS, prefix .. 'sum', whole(seconds * 1000000))
  return prefix .. le
end

-- One more in this slot's short-lived hash, for "the last minute" (see
-- laneway/histograms.py: RECENT_SLOT, RECENT_TTL are generated there).
local function count_recent(field)
  if not field then
    return
  end
  local now = tonumber(redis.call('TIME')[1])
  local key = 'laneway:recent:' .. string.format('%d', now - now % RECENT_SLOT)
  if redis.call('HINCRBY', key, field, 1) == 1 then
    redis.call('EXPIRE', key, RECENT_TTL) -- a field's first count: few per slot
  end
end

-- A closed attempt (JSON) that made a backend call: its duration into
-- backend_call_seconds and the job's backend_us. Returns the decoded attempt.
local function observe_attempt(job_key, attempt)
  local ok, a = pcall(cjson.decode, attempt)
  if not ok or type(a) ~= 'table' or type(a.started_at) ~= 'number'
      or type(a.ended_at) ~= 'number' then
    return nil
  end
  if (a.outcome == 'succeeded' or a.outcome == 'error') and a.error_type ~= 'deadline_exceeded' then
    local seconds = a.ended_at - a.started_at
    if type(a.latency_ms) == 'number' then
      seconds = a.latency_ms / 1000
    end
    count_recent(observe('backend_call_seconds', tostring(a.lane) .. '|' .. tostring(a.backend),
      seconds))
    redis.call('HINCRBY', job_key, 'backend_us', whole(seconds * 1000000))
  end
  return a
end

-- Usage totals per hour (laneway/usage.py reads them): one hash per hour, fields
-- tenant|lane|backend|model|measure, integers only (HINCRBY is cheaper than
-- HINCRBYFLOAT and exact), kept usage_ttl seconds past the hour.
local function account_usage(f, status, usage)
  local ttl = tonumber(f.usage_ttl or '')
  local finished = tonumber(f.finished_at or '')
  if not ttl or ttl <= 0 or not finished then
    return
  end
  local hour = math.floor(finished / 3600) * 3600
  local key = 'laneway:usage:' .. string.format('%d', hour)
  local prefix = f.tenant .. '|' .. f.lane .. '|' .. f.backend .. '|' .. f.model .. '|'
  redis.call('HINCRBY', key, prefix .. status, 1)
  if usage then
    redis.call('HINCRBY', key, prefix .. 'prompt_tokens', usage.prompt)
    redis.call('HINCRBY', key, prefix .. 'completion_tokens', usage.completion)
    if usage.estimated then
      redis.call('HINCRBY', key, prefix .. 'estimated', 1)
    end
  end
  if f.cost then
    redis.call('HINCRBY', key, prefix .. 'cost_e8', whole(tonumber(f.cost) * 1e8))
  end
  local wait = tonumber(f.queue_wait_ms or '')
  if wait then
    redis.call('HINCRBY', key, prefix .. 'queue_wait_us', whole(wait * 1000))
    redis.call('HINCRBY', key, prefix .. 'started', 1)
  end
  local ttft = tonumber(f.ttft_ms or '')
  if ttft then
    redis.call('HINCRBY', key, prefix .. 'ttft_us', whole(ttft * 1000))
    redis.call('HINCRBY', key, prefix .. 'streamed', 1)
  end
  if f.backend_us then
    redis.call('HINCRBY', key, prefix .. 'backend_us', whole(f.backend_us))
  end
  redis.call('EXPIREAT', key, hour + 3600 + ttl)
end

local ACCOUNTED = {'lane', 'backend', 'cost', 'model', 'tenant', 'created_at', 'finished_at',
  'usage', 'ttft_ms', 'queue_wait_ms', 'backend_us', 'usage_ttl'}

-- A job reached its final state: the counters, histograms and usage totals it
-- adds to, in the script that finishes it.
local function count_finished(job_key, status)
  local values = redis.call('HMGET', job_key, unpack(ACCOUNTED))
  local f = {}
  for i, name in ipairs(ACCOUNTED) do
    f[name] = values[i]
  end
  f.lane, f.backend, f.model, f.tenant = f.lane or '', f.backend or '', f.model or '',
    f.tenant or ''
  local lane, backend = f.lane, f.backend
  count('finished|' .. status .. '|' .. lane .. '|' .. backend)
  count_recent('finished|' .. lane)
  local where = lane .. '|' .. backend .. '|' .. f.model
  if f.cost then
    redis.call('HINCRBYFLOAT', STATS, 'cost|' .. where, f.cost)
  end
  local usage = nil
  if f.usage then
    local ok, u = pcall(cjson.decode, f.usage)
    if ok and type(u) == 'table' then
      usage = {prompt = whole(u.prompt_tokens), completion = whole(u.completion_tokens),
        estimated = u.estimated == true}
      count('tokens|' .. where .. '|prompt', usage.prompt)
      count('tokens|' .. where .. '|completion', usage.completion)
    end
  end
  if status == 'succeeded' then
    local created, finished = tonumber(f.created_at or ''), tonumber(f.finished_at or '')
    if created and finished then
      observe('job_latency_seconds', lane .. '|' .. backend, finished - created)
    end
    local ttft = tonumber(f.ttft_ms or '')
    if ttft then
      observe('ttft_seconds', lane .. '|' .. backend, ttft / 1000)
    end
  end
  account_usage(f, status, usage)
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

-- Which worker instance holds a running job: its ``worker`` field, and the job id
-- in that worker's ``held`` set, so that the jobs of a worker that stops
-- heartbeating can be found and handed to a live one (see handover.lua).
local HEARTBEATS = 'laneway:heartbeats'
local WORKERS = 'laneway:workers'

local function held_key(worker)
  return 'laneway:held:' .. worker
end

-- Redis's clock: every worker's heartbeat is stamped with it, so that liveness
-- never compares the clocks of two machines.
local function redis_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function is_alive(worker, dead_after, now)
  local beat = redis.call('ZSCORE', HEARTBEATS, worker)
  return beat and now - tonumber(beat) < dead_after
end

-- An open attempt (json.dumps output, never with ``ended_at``) closed by string
-- edits, so that its numbers keep their exact text. ``extra`` is a JSON fragment
-- starting with a comma, or ''.
local function close_attempt(open, outcome, ended_at, extra)
  local closed = string.gsub(open, '"outcome":"running"', '"outcome":"' .. outcome .. '"', 1)
  return string.sub(closed, 1, -2) .. ',"ended_at":' .. ended_at .. (extra or '') .. '}'
end

local function close_open_attempt(job_key, outcome, ended_at, extra)
  local open = redis.call('HGET', job_key, 'attempt_open')
  if open then
    append_attempt(job_key, close_attempt(open, outcome, ended_at, extra))
    redis.call('HDEL', job_key, 'attempt_open')
  end
end

-- Forget a dead worker once it holds no job any more.
local function forget_if_idle(worker)
  if redis.call('SCARD', held_key(worker)) == 0 then
    redis.call('ZREM', HEARTBEATS, worker)
    redis.call('HDEL', WORKERS, worker)
  end
end

-- The job is no longer held by any worker (finished, handed on or cancelled).
local function release(job_key)
  local f = redis.call('HMGET', job_key, 'worker', 'id')
  if f[1] then
    redis.call('SREM', held_key(f[1]), f[2])
    redis.call('HDEL', job_key, 'worker')
  end
end

-- Why the worker ``owner`` must not write the job: it finished, or another worker
-- holds it now (it was handed over while ``owner`` looked dead). A job no worker
-- holds is accepted only when ``allow_free`` (a delivery that failed before it
-- took the job). ``owner`` '' skips the check (operators, the watchdog).
local function writer_refusal(job_key, owner, allow_free)
  local refused = refusal(job_key)
  if refused or owner == '' then
    return refused
  end
  local holder = redis.call('HGET', job_key, 'worker')
  if holder == owner or (not holder and allow_free) then
    return nil
  end
  return 'superseded'
end

-- Messages waiting in a Celery queue: its list plus kombu's priority sub-lists
-- (names kept in step with laneway.wire.queue_keys; a test checks).
local function queue_depth(queue)
  local depth = redis.call('LLEN', queue)
  for _, step in ipairs({3, 6, 9}) do
    depth = depth + redis.call('LLEN', queue .. '\6\22' .. step)
  end
  return depth
end

-- A finished job keeps its prompt, result and event stream for its 'content_ttl'
-- only; its metadata stays for the job's own TTL. With content_ttl 0 nothing is
-- kept, except that the streams live DELIVERY_GRACE seconds more, so that a caller
-- still reading them gets the end. Call after emit_final (which copies the result).
local DELIVERY_GRACE = 30

local function release_content(job_key, events_key, final_key)
  local ttl = tonumber(redis.call('HGET', job_key, 'content_ttl') or '')
  if not ttl then
    return -- a job created before content retention: kept whole for the job's TTL
  end
  local content = redis.call('HMGET', job_key, 'request', 'result')
  redis.call('HDEL', job_key, 'request', 'result')
  local keep = DELIVERY_GRACE
  if ttl > 0 then
    keep = ttl
    local fields = {}
    if content[1] then
      fields[#fields + 1] = 'request'
      fields[#fields + 1] = content[1]
    end
    if content[2] then
      fields[#fields + 1] = 'result'
      fields[#fields + 1] = content[2]
    end
    if #fields > 0 then
      redis.call('HSET', job_key .. ':content', unpack(fields))
      redis.call('EXPIRE', job_key .. ':content', ttl)
    end
  end
  redis.call('EXPIRE', events_key, keep)
  redis.call('EXPIRE', final_key, keep)
end

-- Before a finished job runs again (an operator's requeue): its prompt back in
-- the job record. False when the prompt is no longer kept.
local function restore_content(job_key, events_key)
  if redis.call('HEXISTS', job_key, 'request') == 1 then
    return true
  end
  local request = redis.call('HGET', job_key .. ':content', 'request')
  if not request then
    return false
  end
  redis.call('HSET', job_key, 'request', request)
  redis.call('DEL', job_key .. ':content')
  local ttl = redis.call('PTTL', job_key)
  if ttl > 0 then
    redis.call('PEXPIRE', events_key, ttl)
  end
  return true
end
