-- wrk script for reload.sh: counts responses with status >= 500 (what a client sees while a
-- worker is swapped out) and prints, after wrk's own summary, one line the script parses:
--   RESULT total=<responses+socket errors> failed=<5xx+socket errors> 5xx=<n> socket=<n>
-- Each wrk thread has its own Lua state, so the count lives in the thread and done() (run in
-- the main state) reads it back through the thread handles collected in setup().

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  server_errors = 0
end

function response(status, headers, body)
  if status >= 500 then
    server_errors = server_errors + 1
  end
end

function done(summary, latency, requests)
  local s5xx = 0
  for _, thread in ipairs(threads) do
    s5xx = s5xx + thread:get("server_errors")
  end
  local e = summary.errors
  local socket = e.connect + e.read + e.write + e.timeout
  io.write(string.format("RESULT total=%d failed=%d 5xx=%d socket=%d\n",
    summary.requests + socket, s5xx + socket, s5xx, socket))
end
