-- Append a batch of stream chunks to a running job's event stream: never after
-- its final event (a cancel can land mid-stream), nor from a worker that no
-- longer holds the job. The first batch also marks the job as having streamed.
-- KEYS: job, events
-- ARGV: owner ('' for no check), '1' for the first batch, chunks json, max stream length
-- Returns 1 when appended, else 0.
local f = redis.call('HMGET', KEYS[1], 'status', 'worker')
if f[1] ~= 'running' or (ARGV[1] ~= '' and f[2] ~= ARGV[1]) then
  return 0
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'type', 'chunks', 'data', ARGV[3])
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'streamed', 1)
end
return 1
