-- bench_mixed.lua - the request mix of bench/bench_mixed.sh for wrk (issue 7,
-- sustained mixed load).  Eight requests in turn on every thread:
--   1, 3  POST /api/v1/generate, the request the script made before the run: a cache hit
--   2, 4  GET of that result's GLB (download_url): a cache hit served from the cache's file
--   5, 6  POST /api/v1/generate with a size_mm no request used before: a fresh generation
--   7     POST of the image cut in half: 400 bad_image, or (every other time) of bytes
--         that are no image at all, sent as image/png: 400 bad_image too (the type
--         is the bytes', never the declared one: issue 12)
--   8     POST of the image with quality=99: 422 invalid_param
-- Every request sends the image as the raw body with the parameters in the
-- query string (API.md).  Responses are counted by status on every thread;
-- done() prints name=value lines the script reads: sent_<kind>, status_<code>,
-- and wrk's socket errors.
--   wrk -s bench/bench_mixed.lua URL -- IMAGE.png RESULT_PATH QUALITY
local thread_id = 0
local threads = {}

function setup(thread)
  thread_id = thread_id + 1
  thread:set("id", thread_id)
  table.insert(threads, thread)
end

local image, truncated, result_path, quality
local n = 0
sent = {}
statuses = {}

function init(args)
  local f = assert(io.open(args[1], "rb"))
  image = f:read("*a")
  f:close()
  result_path = args[2]
  quality = args[3] or "4"
  truncated = image:sub(1, math.floor(#image / 2))
  for _, k in ipairs({"hit_post", "hit_get", "fresh", "bad_image", "bad_type", "bad_param"}) do sent[k] = 0 end
end

local function post(query, body)
  return wrk.format("POST", "/api/v1/generate?" .. query, {["Content-Type"] = "image/png"}, body)
end

function request()
  n = n + 1
  local k = n % 8
  if k == 1 or k == 3 then
    sent.hit_post = sent.hit_post + 1
    return post("quality=" .. quality, image)
  elseif k == 2 or k == 4 then
    sent.hit_get = sent.hit_get + 1
    return wrk.format("GET", result_path)
  elseif k == 5 or k == 6 then
    sent.fresh = sent.fresh + 1
    -- size_mm = 2ID.NNNNNN mm: unique for every thread and request
    return post(string.format("quality=%s&size_mm=%d.%06d", quality, 200 + id, n), image)
  elseif k == 7 and n % 16 == 7 then
    sent.bad_image = sent.bad_image + 1
    return post("quality=" .. quality, truncated)
  elseif k == 7 then
    sent.bad_type = sent.bad_type + 1
    return post("quality=" .. quality, "these bytes are no image, whatever the Content-Type says")
  else
    sent.bad_param = sent.bad_param + 1
    return post("quality=99", image)
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local s, t = {}, {}
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get("sent")) do s[k] = (s[k] or 0) + v end
    for k, v in pairs(thread:get("statuses")) do t[k] = (t[k] or 0) + v end
  end
  for k, v in pairs(s) do io.write(string.format("sent_%s=%d\n", k, v)) end
  for k, v in pairs(t) do io.write(string.format("status_%d=%d\n", k, v)) end
  local e = summary.errors
  io.write(string.format("requests=%d seconds=%.1f\n", summary.requests, summary.duration / 1e6))
  io.write(string.format("socket_errors=%d connect=%d read=%d write=%d timeout=%d\n",
    e.connect + e.read + e.write + e.timeout, e.connect, e.read, e.write, e.timeout))
  io.write(string.format("latency_p50_ms=%.1f latency_p99_ms=%.1f latency_max_ms=%.1f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
