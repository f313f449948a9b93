-- wrk script for bench/olap_point_reads.py: POST one point read per request, cycling through
-- the request paths (one per line) in the file given as the first argument after `--`; the
-- Authorization header comes as the second, the statement (the body) as the third. Prints one JSON line at the end.
local paths = {}
local next_path = 1

function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  wrk.headers["Authorization"] = args[2]
  wrk.headers["Content-Type"] = "text/plain"
  wrk.body = args[3]
  next_path = math.random(#paths)
end

function request()
  local path = paths[next_path]
  next_path = next_path % #paths + 1
  return wrk.format("POST", path, nil, wrk.body)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "requests_per_s": %.1f, "p50_ms": %.2f, "p99_ms": %.2f, "errors": %d}\n',
    summary.requests, summary.requests / seconds, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, errors))
end
