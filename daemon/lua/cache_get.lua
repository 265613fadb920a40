-- KEYS[1] the cache generation (bumped by clear). ARGV[1] entry key prefix,
-- ARGV[2] CacheKey::toString(). Returns nil, or {value, ms left to live}.
local gen = redis.call('GET', KEYS[1]) or '0'
local key = ARGV[1] .. gen .. ':' .. ARGV[2]
local value = redis.call('GET', key)
if not value then
    return false
end
return {value, redis.call('PTTL', key)}
