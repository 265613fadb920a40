-- KEYS[1] the cache generation: bumping it makes every entry unreachable at
-- once (they expire on their own). ARGV[1] channel, ARGV[2] message.
redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
