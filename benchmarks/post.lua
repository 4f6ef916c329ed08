-- POST one fixed body on every request, and report the run as one JSON line.
--   wrk -s benchmarks/post.lua URL -- BODY_FILE CONTENT_TYPE
-- No response() hook on purpose: defining one makes wrk parse every response
-- in Lua and slows the client down on a 2-core machine.

function init(args)
   local file = assert(io.open(args[1], "rb"))
   wrk.method = "POST"
   wrk.body = file:read("*a")
   file:close()
   wrk.headers["Content-Type"] = args[2]
end

function done(summary, latency, requests)
   -- wrk measures latency and duration in microseconds.
   local e = summary.errors
   io.write(string.format(
      'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, '
         .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, '
         .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean,
      e.connect, e.read, e.write, e.status, e.timeout))
end
