-- A daemon says it is alive. KEYS[1]: sorted set of daemon ids by expiry.
-- ARGV[1] daemon id, ARGV[2] ms it counts as alive. Returns the number of
-- daemons alive and the Redis clock (ms).
if redis.replicate_commands then
    redis.replicate_commands()
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return {redis.call('ZCARD', KEYS[1]), string.format('%.17g', now)}
