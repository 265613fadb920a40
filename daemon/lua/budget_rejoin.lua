-- A daemon is back after Redis was unreachable. Grants made meanwhile by
-- every daemon are unknown here, so the view of the window is dropped and
-- re-learned from the next answer's headers (which count them all); until
-- then one request at a time. The daemon's slots still in flight become
-- leases again; slots it finished meanwhile are released.
-- ARGV[5] = n, ARGV[6 .. 5+n] slot ids still in flight, the rest finished ids.
local s = load()
local n = tonumber(ARGV[5]) or 0
for i = 6, 5 + n do
    redis.call('ZADD', flightKey, now + cfg.lease, ARGV[i])
end
for i = 6 + n, #ARGV do
    redis.call('ZREM', flightKey, ARGV[i])
end
if n > 0 then
    redis.call('PEXPIRE', flightKey, cfg.lease * 2)
end
s.budgetKnown = 0
s.boundsKnown = 0
s.hasReference = 0
save(s)
return reply(0, 0, s, inFlightCount())
