// The autocannon generator in its own process (the harness's fallback when wrk is not installed).
// argv[2]: JSON { url, connections, durationSec, mode, prefix, distinct, path, auth, s, agents,
// referrers }, same modes as wrk.lua. Prints one line: BENCH_JSON {...} in the shape wrk.lua prints.
import autocannon from "autocannon";

const options = JSON.parse(process.argv[2]);
const { mode = "fixed", prefix = "", distinct = 1 } = options;
let n = 0;
const next = () => {
  n = mode === "cycle" ? (n % distinct) + 1 : n + 1;
  return n;
};
/** zipf: a rank in 1..distinct with P(rank) ∝ 1/rank^s, by binary search over the cumulative sums. */
const zipfRank = (() => {
  if (mode !== "zipf") return () => 1;
  const cdf = new Float64Array(distinct);
  let total = 0;
  for (let k = 1; k <= distinct; k += 1) {
    total += 1 / k ** (options.s ?? 1);
    cdf[k - 1] = total;
  }
  return () => {
    const u = Math.random() * total;
    let lo = 0;
    let hi = distinct - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
})();
const pick = (list) => list[Math.floor(Math.random() * list.length)];
const requests =
  mode === "zipf"
    ? [
        {
          setupRequest: (req) => {
            const referrer = pick(options.referrers?.length ? options.referrers : [""]);
            const headers = { "user-agent": pick(options.agents?.length ? options.agents : ["autocannon"]) };
            if (referrer) headers.referer = referrer;
            return { ...req, path: `/${prefix}${zipfRank()}`, headers };
          },
        },
      ]
    : mode === "cycle"
      ? [{ setupRequest: (req) => ({ ...req, path: `/${prefix}${next()}` }) }]
      : mode === "create"
        ? [
            {
              method: "POST",
              path: options.path,
              headers: { "content-type": "application/json", authorization: `Bearer ${options.auth}` },
              setupRequest: (req) => ({
                ...req,
                body: `{"url":"https://example.com/bench/${prefix}/0/${next()}"}`,
              }),
            },
          ]
        : undefined;

const result = await autocannon({
  url: options.url,
  connections: options.connections,
  duration: options.durationSec,
  pipelining: 1,
  requests,
});
const codes = {};
for (const [status, { count }] of Object.entries(result.statusCodeStats ?? {})) codes[status] = count;
const outside = Object.entries(codes)
  .filter(([status]) => Number(status) < 200 || Number(status) > 399)
  .reduce((sum, [, count]) => sum + count, 0);
const ms = (value) => value * 1000;
process.stdout.write(
  `BENCH_JSON ${JSON.stringify({
    requests: result.requests.total,
    durationUs: Math.round(result.duration * 1e6),
    bytes: result.throughput.total,
    errors: {
      connect: 0,
      read: result.errors - result.timeouts,
      write: 0,
      status: outside,
      timeout: result.timeouts,
    },
    latencyUs: {
      p50: ms(result.latency.p50),
      p90: ms(result.latency.p90),
      p99: ms(result.latency.p99),
      p999: ms(result.latency.p99_9),
      max: ms(result.latency.max),
      mean: ms(result.latency.average),
    },
    codes,
  })}\n`,
);
