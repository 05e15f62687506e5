-- wrk script of bench/peers/serve.sh: distinct text queries, or photo uploads, one per request.
--
--   wrk -t C -c C -d 20s --timeout 30s -s load.lua URL -- get  PREFIX QUERIES_FILE
--   wrk -t C -c C -d 20s --timeout 30s -s load.lua URL -- post PATH   BOUNDARY BODY_FILE...
--
-- get:  PREFIX .. line, for each line of QUERIES_FILE (already URL-encoded), in turn; each
--       thread starts at its own offset so that concurrent clients send different queries.
-- post: multipart/form-data bodies (prepared by serve_peers.py with BOUNDARY), in turn.
-- Prints one JSON line: requests, seconds, errors, latency percentiles in microseconds.

local threads = {}

function setup(thread)
    thread:set("id", #threads)
    table.insert(threads, thread)
end

local mode, items, cursor, path, boundary

function init(args)
    mode = args[1]
    items = {}
    if mode == "get" then
        path = args[2]
        for line in io.lines(args[3]) do
            if #line > 0 then items[#items + 1] = path .. line end
        end
    else
        path = args[2]
        boundary = args[3]
        for i = 4, #args do
            local file = assert(io.open(args[i], "rb"))
            items[#items + 1] = file:read("*a")
            file:close()
        end
    end
    -- Spread the threads over the list (each thread is one client connection).
    cursor = math.floor(id * #items / 64)
end

function request()
    cursor = cursor % #items + 1
    if mode == "get" then
        return wrk.format("GET", items[cursor])
    end
    return wrk.format("POST", path, { ["Content-Type"] = "multipart/form-data; boundary=" .. boundary }, items[cursor])
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        '{"requests": %d, "seconds": %.6f, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
        '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
        summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
