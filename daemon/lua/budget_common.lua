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
    'budgetKnown', 'budget', 'windowMs', 'remaining', 'boundsKnown', 'window',
    'hasReference', 'referenceRemaining', 'earlyEnd', 'lateEnd', 'tokens', 'tokensAt',
    'pausedUntil', 'lastGrantAt', 'granted', 'rejected429', 'windowStartedAt', 'evidence',
    'usedSeen', 'counterResets',
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

-- Each slot in flight remembers the window (our serial) it was granted in
-- and the highest count announced in it by then (field 'slot:ID' of KEYS[1]).
local function slotField(id)
    return 'slot:' .. id
end

-- Slots in flight, every daemon's: expired leases go first.
local function inFlightCount()
    local expired = redis.call('ZRANGEBYSCORE', flightKey, '-inf', now)
    for _, id in ipairs(expired) do
        redis.call('HDEL', stateKey, slotField(id))
    end
    redis.call('ZREMRANGEBYSCORE', flightKey, '-inf', now)
    return redis.call('ZCARD', flightKey)
end

local function burstCap(s)
    return math.max(1, math.floor(cfg.burst * s.budget))
end

-- Moves into a new window ending within [early, late]. Slots still in
-- flight may land in it: they are counted there.
local function beginWindow(s, t, early, late, fromAnswer, inFlight)
    s.remaining = math.max(0, s.budget - inFlight)
    s.window = s.window + 1
    s.windowStartedAt = t
    s.earlyEnd = early
    s.lateEnd = late
    s.boundsKnown = fromAnswer and 1 or 0
    s.evidence = fromAnswer and 1 or 0
    s.usedSeen = -1
    s.hasReference = 0
    s.tokens = math.min(burstCap(s), s.remaining)
    s.tokensAt = t
end

-- Once the late bound of the current window's end has passed, a new window
-- has surely begun. Its end is predicted from the last one until an answer
-- sent in it places it; generously late, as the window may be longer than
-- the largest reset seen.
local function rollWindow(s, t, inFlight)
    if s.budgetKnown == 0 or t < s.lateEnd then
        return
    end
    local w = math.max(s.windowMs, 1000)
    local step = 2 * w + 1000
    local k = math.floor((t - s.lateEnd) / step) + 1
    beginWindow(s, t, s.earlyEnd + k * w, s.lateEnd + k * step, false, inFlight)
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
-- inFlight no longer counts the answered slot; slotWindow and slotUsedSeen
-- are what the slot remembered from its grant (nil: unknown).
local function learn(s, grantedAt, status, used, remaining, reset, retryAfter, t, inFlight,
                     slotWindow, slotUsedSeen)
    if status == 429 then
        s.rejected429 = s.rejected429 + 1
        local pause = retryAfter
        if not pause then
            pause = reset or math.max(cfg.delay / 1000, 1)
        end
        s.pausedUntil = math.max(s.pausedUntil, t + math.max(pause, 0) * 1000 + 1000)
        if s.budgetKnown == 1 then
            s.remaining = 0
            -- The window ends by then: the budget renews once the pause is over.
            if s.pausedUntil < s.lateEnd then
                s.lateEnd = math.max(s.pausedUntil, s.earlyEnd)
            end
        end
    end
    -- Without the headers the slot still counted as one: its grant took it.
    if not (remaining and reset) then
        return
    end

    reset = math.max(reset, 0)
    local announced = math.floor(remaining)
    if used then
        used = math.ceil(used)
        s.budget = used + announced
    end
    s.windowMs = math.max(s.windowMs, reset * 1000)
    -- Where the end of the answer's window lies under every rounding of the
    -- reset (down, up, down but never 0), as in core/src/RateLimiter.cpp.
    local early = grantedAt + math.max(reset - 1, 0) * 1000
    local late = t + reset * 1000 + 1000

    -- Slots in flight may or may not be in the announced count; assume not,
    -- and give each back when its own answer shows it was counted before.
    local function adoptView()
        s.referenceRemaining = announced
        s.hasReference = 1
        s.remaining = math.min(math.max(announced - inFlight, 0), math.max(s.budget, 0))
        s.tokens = math.min(s.tokens, s.remaining)
    end
    local function beginWindowAt()
        beginWindow(s, t, early, late, true, inFlight)
        adoptView()
    end

    if s.budgetKnown == 0 then
        s.budgetKnown = 1
        beginWindowAt()
        s.tokens = math.min(burstCap(s), s.remaining)
        s.tokensAt = t
    else
        rollWindow(s, t, inFlight)
        if used and slotWindow == s.window and slotUsedSeen and used < slotUsedSeen then
            -- Counting less than an answer of this window seen before its
            -- grant: the counter fell back, a new window began.
            s.counterResets = s.counterResets + 1
            beginWindowAt()
        elseif s.boundsKnown == 0 then
            -- Only a slot used after we moved into the window surely counts in it.
            if grantedAt < s.windowStartedAt then
                return
            end
            s.boundsKnown = 1
            s.evidence = 1
            s.earlyEnd = early
            s.lateEnd = late
            adoptView()
        elseif early > s.lateEnd then
            -- Its window ends after the current one can: a new one began.
            beginWindowAt()
        elseif late < s.earlyEnd then
            return -- a late answer from a window that ended
        else
            -- Same window: the bounds only tighten (evidence that does not
            -- fit widens them instead).
            local lo = math.max(s.earlyEnd, early)
            local hi = math.min(s.lateEnd, late)
            if lo > hi then
                lo = math.min(s.earlyEnd, early)
                hi = math.max(s.lateEnd, late)
            end
            s.earlyEnd = lo
            s.lateEnd = hi
            s.evidence = s.evidence + 1
            if s.hasReference == 0 or announced < s.referenceRemaining then
                adoptView()
            elseif announced > s.referenceRemaining then
                -- Counted before the reference view, yet subtracted as in flight
                -- when that view was adopted: hand it back.
                s.remaining = math.min(s.remaining + 1, s.budget)
            end
        end
    end
    if used then
        s.usedSeen = math.max(s.usedSeen, used)
    end
end

-- The answer every budget script gives: granted (1/0), ms to wait (-1:
-- until an answer arrives), then the state for stats and degraded mode.
local function reply(granted, wait, s, inFlight)
    return {granted, num(wait), num(now), num(s.budgetKnown), num(s.budget), num(s.remaining),
            num(s.earlyEnd), num(s.lateEnd), num(s.pausedUntil), num(inFlight), num(s.granted),
            num(s.rejected429), num(s.windowMs), num(s.tokens), num(s.boundsKnown), num(s.evidence),
            num(s.counterResets)}
end
