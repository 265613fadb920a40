-- Every request a new URL (a cache miss), for the added-latency benchmark.
-- Then the same machine-readable line as report.lua.
math.randomseed(os.time())
local prefix = tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000000))
local counter = 0

request = function()
  counter = counter + 1
  return wrk.format("GET", "/r/miss/new.json?u=" .. prefix .. "-" .. counter)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "PRAWMP requests=%d duration_us=%d errors=%d non2xx=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.mean))
end
