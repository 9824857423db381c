-- wrk script for scripts/bench: POSTs one chat completion per request and, when done,
-- prints one line `BENCH_JSON {...}` with the exact latency percentiles (microseconds)
-- and every error counter, for bench_run.py to parse.
-- The body comes from BENCH_BODY (set by the harness), so all three systems get the same bytes.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-dummy-key"
wrk.body = os.getenv("BENCH_BODY")
    or '{"model":"chat","messages":[{"role":"user","content":"Say hello"}],"max_tokens":16}'

-- BENCH_DELAY_MS turns each connection into a paced client: after each response it waits a
-- random 0..2×BENCH_DELAY_MS (mean BENCH_DELAY_MS), so C connections offer about
-- C × 1000 / BENCH_DELAY_MS requests/s, desynchronised rather than in bursts.
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if delay_ms then
  function setup(thread)
    thread:set("seed", math.random(1, 1000000))
  end
  function init(args)
    math.randomseed(seed or os.time())
  end
  function delay()
    return math.random(0, 2 * delay_ms)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.2f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max))
end
