// stats' limit: each stats question answered by a plain script with bare SQL over the rollups via
// `pg` — the per-bucket totals (traffic classes side by side, as one JSON array) and the top-N
// GROUP BY per dimension that edgelink's repository runs, in parallel on a pool — with nothing
// around them: no HTTP, auth, link lookup, Redis or JSON shaping. argv[2]: JSON { url, linkId,
// queries: [{ interval, from, to, groupBy: [] }], concurrency, top }, or the path of a file holding it.
// Prints BENCH_JSON { answered, latenciesMs (sorted), durationMs, maxRssMb }.
import { readFileSync } from "node:fs";
import pg from "pg";

const { url, linkId, queries, concurrency, top } = JSON.parse(
  process.argv[2].startsWith("{") ? process.argv[2] : readFileSync(process.argv[2], "utf8"),
);
const pool = new pg.Pool({ connectionString: url, max: concurrency * 2 });
const totals = `select coalesce(json_agg(json_build_array(at, clicks, bots, previews)), '[]') as buckets
  from (
    select (extract(epoch from bucket_start) * 1000)::bigint as at,
           coalesce(sum(clicks) filter (where traffic = 'human'), 0) as clicks,
           coalesce(sum(clicks) filter (where traffic = 'bot'), 0) as bots,
           coalesce(sum(clicks) filter (where traffic not in ('human', 'bot')), 0) as previews
    from rollups
    where dimension = 'total' and link_id = $1 and granularity = $2 and bucket_start >= $3 and bucket_start < $4
    group by bucket_start
  ) as buckets`;
const dayMs = 86_400_000;
/** As the stats repository does: whole UTC days of an hourly range from the day rollups. */
const covering = (interval, from, to) => {
  const start = Date.parse(from);
  const end = Date.parse(to);
  const firstDay = Math.ceil(start / dayMs) * dayMs;
  const endDay = Math.floor(end / dayMs) * dayMs;
  if (interval === "day" || firstDay >= endDay) return [[interval, start, end]];
  return [
    ["hour", start, firstDay],
    ["day", firstDay, endDay],
    ["hour", endDay, end],
  ].filter(([, a, b]) => a < b);
};
const breakdowns = (parts) => {
  const selects = parts.map(
    (_, i) => `select dimension, value, clicks from rollups
      where link_id = $1 and granularity = $${3 * i + 4} and bucket_start >= $${3 * i + 5}
        and bucket_start < $${3 * i + 6} and traffic = 'human' and dimension = any($2)`,
  );
  return `with totals as (
      select dimension, value, sum(clicks) as clicks from (${selects.join(" union all ")}) as parts
      group by 1, 2),
    ranked as (select dimension, value, clicks,
      row_number() over (partition by dimension order by clicks desc, value) as rank from totals)
    select dimension, case when rank <= $3 then value end as value, sum(clicks)::float8 as clicks
    from ranked group by 1, 2 order by 1, 3 desc, 2`;
};

const latencies = [];
let next = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < queries.length) {
      const { interval, from, to, groupBy } = queries[next++];
      const at = performance.now();
      const parts = covering(interval, from, to);
      const bounds = parts.flatMap(([granularity, a, b]) => [granularity, new Date(a), new Date(b)]);
      await Promise.all([
        pool.query(totals, [linkId, interval, from, to]),
        groupBy.length > 0 ? pool.query(breakdowns(parts), [linkId, groupBy, top, ...bounds]) : undefined,
      ]);
      latencies.push(performance.now() - at);
    }
  }),
);
const durationMs = performance.now() - started;
await pool.end();
latencies.sort((a, b) => a - b);
console.log(
  `BENCH_JSON ${JSON.stringify({ answered: latencies.length, latenciesMs: latencies, durationMs, maxRssMb: process.resourceUsage().maxRSS / 1024 })}`,
);
