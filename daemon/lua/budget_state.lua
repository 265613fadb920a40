-- The domain's state as every daemon should see it now (for stats and as
-- the starting point of degraded mode).
local s = load()
local inFlight = inFlightCount()
if s.budgetKnown == 1 and now >= s.lateEnd then
    rollWindow(s, now, inFlight)
    save(s)
end
return reply(0, 0, s, inFlight)
