-- Shared helpers, prepended to every laneway script.
local function is_finished(status)
  return status == 'succeeded' or status == 'failed' or status == 'cancelled'
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
