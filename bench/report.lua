-- wrk script: adds the session token (BENCH_TOKEN) and extra headers (BENCH_HEADERS, "k: v|k: v")
-- to every request and prints one JSON line, prefixed "JSON ", with the summary and latency
-- percentiles (microseconds) taken from wrk's own latency distribution.
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
end
local extra = os.getenv("BENCH_HEADERS")
if extra and extra ~= "" then
    for item in string.gmatch(extra, "[^|]+") do
        local k, v = string.match(item, "^%s*([^:]+):%s*(.*)$")
        if k then
            wrk.headers[k] = v
        end
    end
end

done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "JSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d,\"errors_connect\":%d," ..
        "\"errors_read\":%d,\"errors_write\":%d,\"errors_status\":%d,\"errors_timeout\":%d," ..
        "\"p50_us\":%d,\"p99_us\":%d,\"p999_us\":%d,\"mean_us\":%.1f,\"max_us\":%d}\n",
        summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
        e.timeout, latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
        latency.mean, latency.max))
end
