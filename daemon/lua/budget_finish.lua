-- The request sent in a slot got an answer (or none): release the slot and
-- learn the budget from the answer's headers.
-- ARGV[5] slot id, ARGV[6] when it was used (ms, Redis clock, estimated),
-- ARGV[7] status (0: no answer), ARGV[8..11] X-Ratelimit-Used, -Remaining,
-- -Reset and Retry-After ("" when absent).
local s = load()
local grantedAt = tonumber(ARGV[6]) or now
local lease = redis.call('ZSCORE', flightKey, ARGV[5])
if lease then
    -- The grant time on the shared clock beats the daemon's estimate.
    grantedAt = math.min(grantedAt, tonumber(lease) - cfg.lease)
    redis.call('ZREM', flightKey, ARGV[5])
end
local slotWindow, slotUsedSeen
local remembered = redis.call('HGET', stateKey, slotField(ARGV[5]))
if remembered then
    local w, u = string.match(remembered, '^(%S+) (%S+)$')
    slotWindow, slotUsedSeen = tonumber(w), tonumber(u)
    redis.call('HDEL', stateKey, slotField(ARGV[5]))
end
local inFlight = inFlightCount()
learn(s, grantedAt, tonumber(ARGV[7]) or 0, tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]),
      tonumber(ARGV[11]), now, inFlight, slotWindow, slotUsedSeen)
save(s)
return reply(0, 0, s, inFlight)
