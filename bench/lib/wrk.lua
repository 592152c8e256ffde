-- Driven by bench/lib/load.ts. BENCH_MODE:
--   fixed  : the URL given on the command line (static request, cheapest for wrk)
--   cycle  : GET /<BENCH_PREFIX><n>, n = 1..BENCH_DISTINCT cycled (unknown slugs)
--   create : POST BENCH_PATH with a unique JSON body per request and BENCH_AUTH
--   zipf   : GET /<BENCH_PREFIX><rank>, rank in 1..BENCH_DISTINCT with P(rank) ∝ 1/rank^BENCH_ZIPF_S,
--            User-Agent and Referer drawn from BENCH_AGENTS / BENCH_REFERRERS (one per line, "-" = none)
-- For cycle/create/zipf every status code is counted. done() prints one line: BENCH_JSON {...}.
local mode = os.getenv("BENCH_MODE") or "fixed"
local prefix = os.getenv("BENCH_PREFIX") or ""
local distinct = tonumber(os.getenv("BENCH_DISTINCT") or "1")
local path = os.getenv("BENCH_PATH") or "/"
local auth = os.getenv("BENCH_AUTH")

local function lines(text)
  local list = {}
  for line in string.gmatch(text or "", "[^\n]+") do table.insert(list, line) end
  return list
end

local threads = {}
function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

local n = 0
codes = {}

if mode == "cycle" then
  request = function()
    n = n % distinct + 1
    return wrk.format("GET", "/" .. prefix .. n)
  end
elseif mode == "create" then
  local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. (auth or "") }
  request = function()
    n = n + 1
    local body = '{"url":"https://example.com/bench/' .. prefix .. '/' .. thread_index .. '/' .. n .. '"}'
    return wrk.format("POST", path, headers, body)
  end
elseif mode == "zipf" then
  local s = tonumber(os.getenv("BENCH_ZIPF_S") or "1")
  local agents = lines(os.getenv("BENCH_AGENTS"))
  local referrers = lines(os.getenv("BENCH_REFERRERS"))
  if #agents == 0 then agents = { "wrk" } end
  if #referrers == 0 then referrers = { "-" } end
  math.randomseed(tonumber(os.getenv("BENCH_SEED") or "1"))
  -- Cumulative probabilities; a draw is a binary search (17 steps for 100k ranks).
  local cdf, total = {}, 0
  for k = 1, distinct do
    total = total + 1 / k ^ s
    cdf[k] = total
  end
  for k = 1, distinct do cdf[k] = cdf[k] / total end
  local function rank()
    local u, lo, hi = math.random(), 1, distinct
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if cdf[mid] < u then lo = mid + 1 else hi = mid end
    end
    return lo
  end
  request = function()
    local headers = { ["User-Agent"] = agents[math.random(#agents)] }
    local referrer = referrers[math.random(#referrers)]
    if referrer ~= "-" then headers["Referer"] = referrer end
    return wrk.format("GET", "/" .. prefix .. rank(), headers)
  end
end

if mode ~= "fixed" then
  response = function(status, headers, body)
    codes[status] = (codes[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local parts = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("codes")
    if c then
      for status, count in pairs(c) do parts[status] = (parts[status] or 0) + count end
    end
  end
  local codeList = {}
  for status, count in pairs(parts) do table.insert(codeList, '"' .. status .. '":' .. count) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"p50":%.1f,"p90":%.1f,"p99":%.1f,"p999":%.1f,"max":%.1f,"mean":%.1f},"codes":{%s}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean, table.concat(codeList, ",")))
end
