-- Shared by the wrk scripts: ids to pick from, and a JSON line with the figures at the end.
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end

function random_id()
  return ids[math.random(#ids)]
end

done = function(summary, latency, requests)
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,' ..
    '"errors_status":%d,"errors_connect":%d,"errors_timeout":%d,"errors_read":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    summary.errors.status, summary.errors.connect, summary.errors.timeout, summary.errors.read))
end
