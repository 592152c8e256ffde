/**
 * The clicks export-stream and stats read, seeded once per bench run straight into Postgres, with
 * rollups in exactly the shape click-ingest.ts writes.
 */

import { benchWorkspace, harnessClient, int } from "./data-jobs";
import type { Context } from "./scenario";

/** The clicks both export-stream and stats read: seeded once per bench run. */
export interface ClickData {
  workspaceId: string;
  linkId: string;
  clicks: number;
  from: Date;
  to: Date;
  byTraffic: Record<string, number>;
  seedSec: number;
  rollupRows: number;
}

let seeded: Promise<ClickData> | undefined;

/**
 * The seeded range ends at the hour this bench run started, so the clicks that the run's redirect
 * scenarios store in the same workspace (all later than that) fall outside what is exported.
 */
const runStartedAt = Date.now();

/**
 * `size` clicks of one link over 60 days, written straight into `clicks` with one
 * INSERT … SELECT generate_series (not through the API: the export and the stats read what is
 * there, whoever wrote it), then the rollups computed from them in SQL in exactly the shape
 * click-ingest.ts writes (hour and day buckets × total/country/device/browser/os/referrer, the
 * same `unknown`/`direct` fallbacks), and checked against the raw clicks.
 */
export function seedClicks(ctx: Context, size: number): Promise<ClickData> {
  seeded ??= (async () => {
    const client = await harnessClient(ctx);
    try {
      const started = performance.now();
      const workspaceId = await benchWorkspace(client);
      const link = await client.query<{ id: string }>(
        "insert into links (workspace_id, domain, slug, url) values ($1, 'localhost', 'bench-clicks', 'https://example.com/clicks') returning id",
        [workspaceId],
      );
      const linkId = link.rows[0]!.id;
      const hourMs = 3_600_000;
      const to = new Date(Math.floor(runStartedAt / hourMs) * hourMs);
      const from = new Date(to.getTime() - 60 * 24 * hourMs);
      // Spread evenly over [from, to), ms precision (the column's); the mix of traffic, countries and
      // clients is deterministic (`i` times a prime, modulo), a few values left null like real data.
      await client.query(
        `insert into clicks (event_id, link_id, workspace_id, occurred_at, traffic, reason, country, device,
                             browser, os, referrer_host, visitor_hash)
         select gen_random_uuid(), $1, $2,
                $3::timestamptz + make_interval(secs => floor(i::float8 * $5 / $4) / 1000),
                case when i % 100 < 90 then 'human' when i % 100 < 97 then 'bot' else 'preview' end,
                case when i % 100 < 90 then null
                     when i % 100 < 97 then (array['googlebot', 'bingbot', 'crawler'])[1 + i % 3]
                     else (array['slack', 'twitter', 'discord'])[1 + i % 3] end,
                (array['US', 'DE', 'FR', 'GB', 'IN', 'BR', 'JP', 'CA', 'NL', 'ES', 'IT', null])[1 + (i * 7) % 12],
                (array['desktop', 'mobile', 'tablet', null])[1 + (i * 11) % 4],
                (array['Chrome', 'Safari', 'Firefox', 'Edge', 'Mobile Safari', null])[1 + (i * 13) % 6],
                (array['Windows', 'macOS', 'iOS', 'Android', 'Linux', null])[1 + (i * 17) % 6],
                (array['google.com', 't.co', 'news.ycombinator.com', 'example.org', null])[1 + (i * 19) % 5],
                md5(((i * 31) % 50000)::text)
         from generate_series(0, $4 - 1) as i`,
        [linkId, workspaceId, from.toISOString(), size, to.getTime() - from.getTime()],
      );
      const rolled = await client.query(
        `insert into rollups (link_id, granularity, bucket_start, traffic, dimension, value, clicks)
         select c.link_id, g.granularity,
                date_trunc(g.granularity, c.occurred_at at time zone 'UTC') at time zone 'UTC', c.traffic,
                d.dimension, d.value, count(*)
         from clicks c
         cross join (values ('hour'), ('day')) as g(granularity)
         cross join lateral (values
           ('total', ''),
           ('country', coalesce(c.country, 'unknown')),
           ('device', coalesce(c.device, 'unknown')),
           ('browser', coalesce(c.browser, 'unknown')),
           ('os', coalesce(c.os, 'unknown')),
           ('referrer', coalesce(c.referrer_host, 'direct'))
         ) as d(dimension, value)
         where c.link_id = $1 and (c.traffic = 'human' or d.dimension = 'total')
         group by 1, 2, 3, 4, 5, 6`,
        [linkId],
      );
      await client.query("analyze clicks");
      // Vacuumed as autovacuum would have done by then (the bench's Postgres may run without it):
      // stats read rollups with index-only scans, which skip the heap only on all-visible pages.
      await client.query("vacuum (analyze) rollups");
      const traffic = await client.query<{ traffic: string; n: string }>(
        "select traffic, count(*)::text as n from clicks where link_id = $1 group by 1",
        [linkId],
      );
      const byTraffic = Object.fromEntries(traffic.rows.map((row) => [row.traffic, Number(row.n)]));
      // Every dimension of every granularity adds up to the raw count of its traffic class (human
      // clicks for the breakdowns, every class for the totals), and every (granularity, dimension,
      // traffic) the ingest writes is there.
      const mismatches = await client.query<{ n: string }>(
        `select count(*)::text as n from (
           select g.granularity, d.dimension, t.traffic,
                  (select coalesce(sum(r.clicks), 0) from rollups r where r.link_id = $1 and r.granularity = g.granularity
                     and r.dimension = d.dimension and r.traffic = t.traffic) as rolled,
                  (select count(*) from clicks c where c.link_id = $1 and c.traffic = t.traffic) as raw
           from (values ('hour'), ('day')) as g(granularity)
           cross join (values ('total'), ('country'), ('device'), ('browser'), ('os'), ('referrer')) as d(dimension)
           cross join (select distinct traffic from clicks where link_id = $1) as t
           where t.traffic = 'human' or d.dimension = 'total') sums
         where rolled <> raw`,
        [linkId],
      );
      const total = Object.values(byTraffic).reduce((a, b) => a + b, 0);
      if (total !== size || mismatches.rows[0]?.n !== "0") {
        throw new Error(`seeding: ${total} clicks of ${size}, ${mismatches.rows[0]?.n} rollup sums disagree`);
      }
      return {
        workspaceId,
        linkId,
        clicks: total,
        from,
        to,
        byTraffic,
        seedSec: (performance.now() - started) / 1000,
        rollupRows: rolled.rowCount ?? 0,
      };
    } finally {
      await client.end();
    }
  })();
  return seeded;
}

export const seedNote = (data: ClickData) =>
  `${int(data.clicks)} clicks of one link over ${data.from.toISOString()} – ${data.to.toISOString()} ` +
  `(${JSON.stringify(data.byTraffic)}) seeded with one INSERT … SELECT generate_series, then ` +
  `${int(data.rollupRows)} rollup rows in click-ingest's shape from one INSERT … SELECT … GROUP BY ` +
  `(${data.seedSec.toFixed(0)} s in all); every (granularity, dimension, traffic) sum of the rollups equals the raw count.`;
