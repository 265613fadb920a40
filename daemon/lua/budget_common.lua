-- Shared by the budget_*.lua scripts (prepended to each): the fixed and
-- adaptive policies of core/src/RateLimiter.cpp, run atomically in Redis so
-- that every daemon draws on one budget. Times are milliseconds on the
-- Redis clock (TIME), the one clock all daemons share.
--
-- KEYS[1]  hash: what the domain's budget is believed to be (fields below)
-- KEYS[2]  sorted set: slots granted and not yet finished, by lease expiry
-- ARGV[1]  "fixed" or "adaptive"
-- ARGV[2]  fixed policy: ms between two grants (adaptive: until a budget is announced)
-- ARGV[3]  burst fraction: share of a window's budget that may leave at once
-- ARGV[4]  lease ms: a slot not finished by then is forgotten (its daemon died)
-- ARGV[5...] script specific

if redis.replicate_commands then
    redis.replicate_commands() -- needed before Redis 5 for TIME in a writing script
end

local MIN_PACING_MS = 250 -- below this to the reset the pace stops stretching
local NEVER = -1          -- re-evaluated when an answer arrives

local stateKey, flightKey = KEYS[1], KEYS[2]
local cfg = {
    fixed = ARGV[1] == 'fixed',
    delay = tonumber(ARGV[2]) or 2000,
    burst = tonumber(ARGV[3]) or 0.5,
    lease = tonumber(ARGV[4]) or 60000,
}

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000

local FIELDS = {
    'budgetKnown', 'budget', 'windowMs', 'remaining', 'boundsKnown', 'previousLateEnd',
    'hasReference', 'referenceRemaining', 'earlyEnd', 'lateEnd', 'tokens', 'tokensAt',
    'pausedUntil', 'lastGrantAt', 'granted', 'rejected429',
}

local function num(v)
    return string.format('%.17g', v)
end

local function load()
    local raw = redis.call('HMGET', stateKey, unpack(FIELDS))
    local s = {}
    for i, f in ipairs(FIELDS) do
        s[f] = tonumber(raw[i]) or 0
    end
    if not raw[14] then
        s.lastGrantAt = -1e15 -- never
    end
    return s
end

local function save(s)
    local args = {}
    for _, f in ipairs(FIELDS) do
        args[#args + 1] = f
        args[#args + 1] = num(s[f])
    end
    redis.call('HSET', stateKey, unpack(args))
    redis.call('PEXPIRE', stateKey, 86400000)
end

-- Slots in flight, every daemon's: expired leases go first.
local function inFlightCount()
    redis.call('ZREMRANGEBYSCORE', flightKey, '-inf', now)
    return redis.call('ZCARD', flightKey)
end

local function burstCap(s)
    return math.max(1, math.floor(cfg.burst * s.budget))
end

-- Starts a new window once the late bound of the current one has passed.
-- Its end is unknown until one of its answers arrives: a generous guess
-- keeps the budget from renewing early meanwhile.
local function rollWindow(s, t, inFlight)
    if s.budgetKnown == 0 or t < s.lateEnd then
        return
    end
    local w = math.max(s.windowMs, 1000)
    local step = 2 * w + 1000
    s.remaining = math.max(0, s.budget - inFlight)
    local k = math.floor((t - s.lateEnd) / step) + 1
    s.previousLateEnd = s.lateEnd + (k - 1) * step
    s.earlyEnd = s.earlyEnd + k * w
    s.lateEnd = s.lateEnd + k * step
    s.boundsKnown = 0
    s.hasReference = 0
    s.tokens = math.min(burstCap(s), s.remaining)
    s.tokensAt = t
end

local function refill(s, t)
    local left = math.max(s.earlyEnd - t, MIN_PACING_MS)
    local spare = math.max(s.remaining - s.tokens, 0)
    local rate = spare / left
    s.tokens = math.min(s.tokens + rate * (t - s.tokensAt), burstCap(s), s.remaining)
    s.tokensAt = t
end

-- Milliseconds from t until one more grant (0: now; NEVER: after an answer).
local function untilGrant(s, t, inFlight)
    if t < s.pausedUntil then
        return s.pausedUntil - t
    end
    if cfg.fixed or s.budgetKnown == 0 then
        -- Until the first answer announces a budget, one request at a time.
        if not cfg.fixed and inFlight > 0 then
            return NEVER
        end
        return math.max(0, s.lastGrantAt + cfg.delay - t)
    end
    rollWindow(s, t, inFlight)
    if s.remaining < 1 then
        return math.max(s.lateEnd - t, 1)
    end
    refill(s, t)
    if s.tokens >= 1 then
        return 0
    end
    local left = math.max(s.earlyEnd - t, MIN_PACING_MS)
    local rate = math.max(s.remaining - s.tokens, 0) / left
    if rate <= 0 then
        return math.max(s.lateEnd - t, 1)
    end
    return (1 - s.tokens) / rate
end

local function spend(s, t)
    s.lastGrantAt = t
    s.granted = s.granted + 1
    if s.budgetKnown == 1 then
        s.remaining = s.remaining - 1
        s.tokens = math.max(0, s.tokens - 1)
    end
end

-- What one answer's X-Ratelimit-* headers teach (nil: header absent).
-- inFlight no longer counts the answered slot.
local function learn(s, grantedAt, status, used, remaining, reset, retryAfter, t, inFlight)
    if status == 429 then
        s.rejected429 = s.rejected429 + 1
        local pause = retryAfter
        if not pause then
            pause = reset or math.max(cfg.delay / 1000, 1)
        end
        s.pausedUntil = math.max(s.pausedUntil, t + pause * 1000 + 1000)
        if s.budgetKnown == 1 then
            s.remaining = 0
        end
    end
    if not (remaining and reset) then
        return
    end

    local early = grantedAt + reset * 1000
    local late = t + reset * 1000 + 1000
    local announced = math.floor(remaining)
    if used then
        s.budget = math.floor(used) + announced
    end
    s.windowMs = math.max(s.windowMs, reset * 1000 + 1000)

    -- Slots in flight may or may not be in the announced count; assume not,
    -- and give each back when its own answer shows it was counted before.
    local function adoptView()
        s.referenceRemaining = announced
        s.hasReference = 1
        s.remaining = math.min(math.max(announced - inFlight, 0), math.max(s.budget, 0))
        s.tokens = math.min(s.tokens, s.remaining)
    end

    if s.budgetKnown == 0 then
        s.budgetKnown = 1
        s.boundsKnown = 1
        s.earlyEnd = early
        s.lateEnd = late
        s.tokens = burstCap(s)
        s.tokensAt = t
        adoptView()
        return
    end
    rollWindow(s, t, inFlight)
    if s.boundsKnown == 0 then
        if late <= s.previousLateEnd then
            return -- from the window that ended
        end
        s.boundsKnown = 1
        s.earlyEnd = early
        s.lateEnd = late
        adoptView()
    elseif early > s.lateEnd then
        -- From a window we have not seen start.
        s.previousLateEnd = s.lateEnd
        s.earlyEnd = early
        s.lateEnd = late
        adoptView()
    elseif late >= s.earlyEnd then
        -- Same window: the bounds only tighten.
        s.earlyEnd = math.max(s.earlyEnd, early)
        s.lateEnd = math.max(math.min(s.lateEnd, late), s.earlyEnd)
        if s.hasReference == 0 or announced < s.referenceRemaining then
            adoptView()
        elseif announced > s.referenceRemaining then
            -- Counted before the reference view, yet subtracted as in flight
            -- when that view was adopted: hand it back.
            s.remaining = math.min(s.remaining + 1, s.budget)
        end
    end
    -- Otherwise a late answer from a previous window: nothing new.
end

-- The answer every budget script gives: granted (1/0), ms to wait (-1:
-- until an answer arrives), then the state for stats and degraded mode.
local function reply(granted, wait, s, inFlight)
    return {granted, num(wait), num(now), num(s.budgetKnown), num(s.budget), num(s.remaining),
            num(s.earlyEnd), num(s.lateEnd), num(s.pausedUntil), num(inFlight), num(s.granted),
            num(s.rejected429), num(s.windowMs), num(s.tokens)}
end
