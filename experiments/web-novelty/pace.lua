-- wrk script (experiments/web-novelty): every connection asks for GET /index.php?id=N (N uniform in 1..1000), then
-- waits a uniform 300–900 ms (delay()) before its next request: about 107 requests/s on 64 connections, far below
-- what the server can do. done() prints one JSON line with wrk's own tally.
local thread_no = 0
function setup(thread)
  thread_no = thread_no + 1
  thread:set("seed", thread_no)
end
function init(args)
  math.randomseed(tonumber(os.getenv("WRK_SEED") or "1") * 1000 + (seed or 0))
end
function request()
  return wrk.format("GET", "/index.php?id=" .. math.random(1, 1000))
end
function delay()
  return math.random(300, 900)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
