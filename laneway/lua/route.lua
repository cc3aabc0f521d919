-- Record the classifier's decision and publish the lane task, once.
-- The job goes to the first candidate lane whose queue has room: the lane decided
-- on, then the lanes its fallback chain reaches. When none has room, the job waits
-- (its classify task sent again after a countdown) while its classify deadline
-- allows, else fails, visibly, with error_type 'queue_full'.
-- KEYS: job, events, classify deadlines, final, classify queue list ('' for no wait),
--       candidate queue list, ...
-- ARGV: job id, now, candidate count,
--       failure event json ('' when the caller has more candidates: then nothing is
--       written when these are full), failure message,
--       wait: push command, classify task message, countdown seconds ('' for no wait),
--       per candidate: lane, queue, push command, task message, event json,
--                      max queue depth (0: no limit), message tag;
--       then field, value, ... (the decision, shared by every candidate)
-- Returns 'ok', 'waiting', 'queue_full', 'full' (more candidates wanted), 'missing',
-- or the status of a job no longer queued.
local FIRST, WIDTH, LISTS = 9, 7, 6
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return status or 'missing'
end
local candidates = tonumber(ARGV[3])
local room = nil
for i = 0, candidates - 1 do
  local at = FIRST + i * WIDTH
  local limit = tonumber(ARGV[at + 5])
  if limit == 0 or queue_depth(ARGV[at + 1]) < limit then
    room = i
    break
  end
end
if not room then
  if ARGV[4] == '' then
    return 'full'
  end
  if ARGV[8] ~= '' then
    local deadline = tonumber(redis.call('ZSCORE', KEYS[3], ARGV[1]) or 0)
    if deadline > tonumber(ARGV[2]) + tonumber(ARGV[8]) then
      -- still queued and still counted as waiting for a lane (see create.lua)
      redis.call(ARGV[6], KEYS[5], ARGV[7])
      count('waited_for_room')
      return 'waiting'
    end
  end
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], unpack(ARGV, FIRST + candidates * WIDTH))
if room then
  local at = FIRST + room * WIDTH
  local lane, list = ARGV[at], KEYS[LISTS + room]
  redis.call('HSET', KEYS[1], 'lane', lane, 'queue', ARGV[at + 1], 'message_key', list,
    'message_tag', ARGV[at + 6])
  if room > 0 then
    local full = {}
    for i = 0, room - 1 do
      full[#full + 1] = ARGV[FIRST + i * WIDTH]
    end
    local reason = redis.call('HGET', KEYS[1], 'reason') or ''
    redis.call('HSET', KEYS[1], 'reason',
      reason .. '; sent to ' .. lane .. ': ' .. table.concat(full, ', ') .. ' full')
  end
  emit(KEYS[2], 'status', ARGV[at + 4])
  local decided = redis.call('HMGET', KEYS[1], 'strategy', 'classify_ms', 'classifier_cache_hit')
  local strategy = decided[1] or ''
  count('routed|' .. lane .. '|' .. strategy)
  local took = tonumber(decided[2] or '')
  if took then
    observe('classifier_latency_seconds', strategy, took / 1000)
  end
  if decided[3] == '1' then
    count('classifier_cache_hits')
  end
  redis.call(ARGV[at + 2], list, ARGV[at + 3])
  track_sent(ARGV[1], redis.call('TIME')[1])
  return 'ok'
end
redis.call('HDEL', KEYS[1], 'routed_at')
redis.call('HSET', KEYS[1], 'status', 'failed', 'lane', ARGV[FIRST], 'queue', ARGV[FIRST + 1],
  'error', ARGV[5], 'error_type', 'queue_full', 'finished_at', ARGV[2], 'updated_at', ARGV[2])
emit(KEYS[2], 'status', ARGV[4])
emit_final(KEYS[1], KEYS[4], ARGV[4])
release_content(KEYS[1], KEYS[2], KEYS[4])
count_finished(KEYS[1], 'failed')
return 'queue_full'
