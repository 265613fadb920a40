-- A granted slot was not used after all: it goes back to the budget.
-- ARGV[5] slot id.
local s = load()
redis.call('HDEL', stateKey, slotField(ARGV[5]))
if redis.call('ZREM', flightKey, ARGV[5]) == 1 then
    s.granted = math.max(0, s.granted - 1)
    if s.budgetKnown == 1 then
        s.remaining = s.remaining + 1
    end
    save(s)
end
return reply(0, 0, s, inFlightCount())
