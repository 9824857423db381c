-- wrk script for scripts/bench: POSTs one chat completion per request and, when done,
-- prints one line `BENCH_JSON {...}` with the exact latency percentiles (microseconds)
-- and every error counter, for bench_run.py to parse.
-- The body comes from BENCH_BODY (set by the harness), so every system gets the same bytes.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-dummy-key"
wrk.body = os.getenv("BENCH_BODY")
    or '{"model":"chat","messages":[{"role":"user","content":"Say hello"}],"max_tokens":16}'

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
