-- KEYS[1] the cache generation. ARGV[1] entry key prefix, ARGV[2] index key
-- prefix, ARGV[3] CacheKey::toString(), ARGV[4] its normalized URL,
-- ARGV[5] the serialized answer, ARGV[6] time to live (ms).
-- The per-URL index set lets evict() find every entry of a URL.
local gen = redis.call('GET', KEYS[1]) or '0'
local key = ARGV[1] .. gen .. ':' .. ARGV[3]
local index = ARGV[2] .. gen .. ':' .. ARGV[4]
local ttl = tonumber(ARGV[6])
redis.call('SET', key, ARGV[5], 'PX', ttl)
redis.call('SADD', index, key)
if redis.call('PTTL', index) < ttl then
    redis.call('PEXPIRE', index, ttl)
end
return 1
