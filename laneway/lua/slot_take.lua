-- Take a call slot on a backend of a lane that has room, chosen as planned (take.lua).
-- KEYS: the slot set of each candidate backend, then (when ARGV[4] is given) the
--       slot set of a slot to give back first, then (modes 'wrr' and 'ewma') the
--       lane's or fleet's balancing state hash
-- ARGV: lease seconds, holder token, a random number in [0, 1), token of the slot
--       to give back ('' for none), mode, a second random number, then per
--       candidate: max_concurrency, weight, name
-- Returns the 1-based index of the chosen candidate (its slot taken), or 0.
local candidates = (#ARGV - 6) / 3
local state = KEYS[candidates + 1]
if ARGV[4] ~= '' then
  redis.call('ZREM', KEYS[candidates + 1], ARGV[4])
  state = KEYS[candidates + 2]
end
local limits, weights, names = {}, {}, {}
for i = 1, candidates do
  limits[i], weights[i], names[i] = ARGV[4 + 3 * i], ARGV[5 + 3 * i], ARGV[6 + 3 * i]
end
return take_slot(KEYS, state, tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]),
  tonumber(ARGV[6]), ARGV[5], limits, weights, names)
