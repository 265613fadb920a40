-- KEYS[1] the cache generation. ARGV[1] index key prefix, ARGV[2] channel,
-- ARGV[3] message telling every daemon to drop its local entries,
-- ARGV[4...] normalized URLs. Returns the number of entries deleted.
local gen = redis.call('GET', KEYS[1]) or '0'
local deleted = 0
for i = 4, #ARGV do
    local index = ARGV[1] .. gen .. ':' .. ARGV[i]
    for _, key in ipairs(redis.call('SMEMBERS', index)) do
        deleted = deleted + redis.call('DEL', key)
    end
    redis.call('DEL', index)
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return deleted
