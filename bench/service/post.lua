-- wrk: POST a body read from a file; for search, a random object id of the catalogue each time.
local body_file, ids_file = os.getenv("BODY"), os.getenv("IDS")
wrk.method = "POST"
wrk.headers["Content-Type"] = os.getenv("CTYPE") or "application/json"
local ids = {}
if ids_file then for line in io.lines(ids_file) do ids[#ids + 1] = line end end
if body_file then local f = io.open(body_file, "rb"); wrk.body = f:read("*a"); f:close() end
request = function()
  if #ids > 0 then
    local id = ids[math.random(#ids)]
    return wrk.format(nil, nil, nil, '{"index": "sim", "k": 10, "id": "' .. id .. '"}')
  end
  return wrk.format()
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT {\"requests\": %d, \"seconds\": %.3f, \"errors_connect\": %d, \"errors_read\": %d, " ..
    "\"errors_write\": %d, \"errors_status\": %d, \"errors_timeout\": %d, \"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
    summary.requests, summary.duration / 1e6, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
