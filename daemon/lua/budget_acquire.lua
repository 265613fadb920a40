-- One slot for the domain, if its policy allows one now.
-- ARGV[5]: the slot's id (daemon id + counter), its lease in KEYS[2].
local s = load()
local inFlight = inFlightCount()
local wait = untilGrant(s, now, inFlight)
if wait == 0 then
    redis.call('ZADD', flightKey, now + cfg.lease, ARGV[5])
    redis.call('PEXPIRE', flightKey, cfg.lease * 2)
    redis.call('HSET', stateKey, slotField(ARGV[5]), num(s.window) .. ' ' .. num(s.usedSeen))
    inFlight = inFlight + 1
    spend(s, now)
    save(s)
    return reply(1, 0, s, inFlight)
end
save(s) -- the window may have rolled, tokens refilled
return reply(0, wait, s, inFlight)
