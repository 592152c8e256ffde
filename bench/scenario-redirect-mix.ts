/**
 * `redirect-mix`: 100k links with Zipf popularity through every cache tier, against real Postgres
 * and Redis, with click recording on and off — the price of analytics on the redirect path — and,
 * after the run, the count check: every redirect the recording cluster counted as served is in the
 * database exactly once.
 */

import pg from "pg";
import { callDelta, type Postgres } from "./lib/backing";
import { type ConsumerProcess, startConsumerProcess, streamWatcher } from "./lib/click-stream";
import { placement } from "./lib/proc";
import type { Measurement } from "./lib/report";
import type { Row, Scenario, ScenarioRun } from "./lib/scenario";
import { counterTotal, probe, readMetrics, type Server, startBaseline, startEdgelink } from "./lib/servers";

const linkCount = 100_000;
const zipfS = 1;
const slugPrefix = "mx";
const target = "https://example.com/landing";
const unreachedRedirectLimit = "1000000000/60s";
/** The longest the harness waits for the consumer to empty the stream before it gives up (and flags). */
const drainTimeoutMs = 180_000;

/** `[weight, user agent]`: browsers by rough market share, ~5% crawlers and scripts. */
const agentMix: [number, string][] = [
  [
    30,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  ],
  [
    20,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  ],
  [
    16,
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
  ],
  [
    8,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
  ],
  [
    6,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
  ],
  [4, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"],
  [
    4,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  ],
  [
    4,
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
  ],
  [
    3,
    "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  ],
  [2, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"],
  [1, "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"],
  [1, "curl/8.5.0"],
  [1, "python-requests/2.32.3"],
];
/** `[weight, Referer]`, "" = none (typed or pasted links, apps, privacy settings). */
const referrerMix: [number, string][] = [
  [12, ""],
  [2, "https://www.google.com/"],
  [2, "https://t.co/"],
  [1, "https://www.facebook.com/"],
  [1, "https://news.ycombinator.com/"],
  [1, "https://mail.google.com/"],
  [1, "https://www.linkedin.com/"],
];
const expand = (mix: [number, string][]) => mix.flatMap(([weight, value]) => Array(weight).fill(value));
const browser = agentMix[0]![1];

const shape = () => ({
  mode: "zipf" as const,
  distinct: linkCount,
  s: zipfS,
  prefix: slugPrefix,
  agents: expand(agentMix),
  referrers: expand(referrerMix),
});

/** Inserts `linkCount` links into a fresh workspace in one statement; answers the workspace id. */
async function seedLinks(postgres: Postgres): Promise<string> {
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      "insert into workspaces (name) values ('bench redirect-mix') returning id",
    );
    const workspaceId = rows[0]!.id;
    await client.query(
      `insert into links (workspace_id, domain, slug, url)
       select $1, 'localhost', $2 || n, $3 || '/' || n from generate_series(1, $4::int) as n`,
      [workspaceId, slugPrefix, target, linkCount],
    );
    await client.query("analyze links");
    return workspaceId;
  } finally {
    await client.end();
  }
}

/** What the recording cluster has stored for the workspace, per traffic class, and the rollups' total. */
async function storedClicks(postgres: Postgres, workspaceId: string) {
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ traffic: string; rows: string; ids: string }>(
      `select traffic, count(*)::text as rows, count(distinct event_id)::text as ids
       from clicks where workspace_id = $1 group by traffic order by traffic`,
      [workspaceId],
    );
    const rolled = await client.query<{ n: string | null }>(
      `select sum(r.clicks)::text as n from rollups r join links l on l.id = r.link_id
       where l.workspace_id = $1 and r.granularity = 'day' and r.dimension = 'total'`,
      [workspaceId],
    );
    const byClass: Record<string, { rows: number; ids: number }> = {};
    for (const row of rows) byClass[row.traffic] = { rows: Number(row.rows), ids: Number(row.ids) };
    return { byClass, rollupTotal: Number(rolled.rows[0]?.n ?? 0) };
  } finally {
    await client.end();
  }
}

/**
 * The URL of Redis database `offset` steps below the base URL's (or `offset` + 1 on a private
 * server that names none): each cluster gets a Redis tier of its own, so none is warmed by the
 * links another cluster's misses fetched from Postgres just before it was measured.
 */
function redisDb(base: string, offset: number): string {
  const url = new URL(base);
  const named = url.pathname.replace("/", "");
  url.pathname = `/${named === "" ? offset + 1 : Math.max(0, Number(named) - offset)}`;
  return url.toString();
}

const metric = (values: Map<string, number>, key: string) => values.get(key) ?? 0;
const servedKey = (traffic: string) => `clicks_served_total{traffic="${traffic}"}`;
const tiers = ["local", "redis", "postgres", "redis_error"] as const;
/** Classes the recorder stores; HEAD and prefetches are counted in metrics only. */
const storedClasses = ["human", "bot", "preview"];
const int = (n: number) => n.toLocaleString("en-US");

export const redirectMix: Scenario = {
  name: "redirect-mix",
  title: `${linkCount / 1000}k links, Zipf popularity, all tiers, click recording on vs off`,
  measures:
    `GET /<slug> over ${int(linkCount)} links, slug popularity Zipf (s=${zipfS}) drawn by the generator, a browser ` +
    "User-Agent mix with ~5% crawlers and scripts and a Referer on 40%. Three edgelink clusters (×2, real Postgres " +
    "+ Redis, LRU → Redis → Postgres at their default sizes and TTLs, each on a Redis database of its own so that " +
    "no cluster's tier is warmed by another's misses): CLICK_RECORDING=off; CLICK_RECORDING=on (click events " +
    "XADDed to a Redis Stream, consumed into Postgres by the cluster's own consumer process, nice +10); and " +
    "recording on with its stream's consumer frozen while measured (the serving side alone). ratio(on vs off) = " +
    "1 − the recording overhead. Each recording row's stream is emptied after its measurement, before the next " +
    "row starts. After the run the clicks stored per class are checked against the redirects the recording " +
    "clusters counted as served.",
  connections: 64,
  needsPostgres: true,
  async setup(ctx) {
    const servers: Server[] = [];
    let watcher: ReturnType<typeof streamWatcher> | undefined;
    let pausedWatcher: ReturnType<typeof streamWatcher> | undefined;
    let pausedConsumer: ConsumerProcess | undefined;
    const cleanup = async () => {
      watcher?.close();
      pausedWatcher?.close();
      await pausedConsumer?.stop();
      await Promise.all(servers.map((server) => server.stop()));
    };
    try {
      const postgres = await ctx.postgres();
      const redis = await ctx.redis();
      await redis.flush();
      ctx.log(`  seeding ${int(linkCount)} links (one INSERT … SELECT generate_series)…`);
      const seedStarted = performance.now();
      const workspaceId = await seedLinks(postgres);
      ctx.log(`  seeded in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);
      const common = {
        DATABASE_URL: postgres.url,
        WEB_CONCURRENCY: "2",
        RATE_LIMIT_REDIRECT: unreachedRedirectLimit,
      };
      const start = async (promise: Promise<Server>) => {
        const server = await promise;
        servers.push(server);
        return server;
      };
      const bare = await start(
        startBaseline("bare-http", 2, placement.clusterServer, {
          BENCH_MIX_LINKS: String(linkCount),
          BENCH_MIX_PREFIX: slugPrefix,
          BENCH_TARGET: target,
        }),
      );
      const off = await start(
        startEdgelink({
          name: "edgelink×2 recording off",
          // Nothing to consume: no consumer either, so that it never competes for the other's stream.
          settings: {
            ...common,
            REDIS_URL: redisDb(redis.url, 0),
            CLICK_RECORDING: "off",
            CLICK_CONSUMER: "off",
          },
          cores: placement.clusterServer,
          profileDir: ctx.profileDir,
          bundle: ctx.bundle,
        }),
      );
      const on = await start(
        startEdgelink({
          name: "edgelink×2 recording on",
          settings: { ...common, REDIS_URL: redisDb(redis.url, 1), CLICK_RECORDING: "on" },
          cores: placement.clusterServer,
          profileDir: ctx.profileDir,
          bundle: ctx.bundle,
        }),
      );
      // The serving side of recording alone: clicks queued to a stream of its own, whose consumer
      // (the consumer role, as `npm run consumer` runs it) is frozen (SIGSTOP) while the row is
      // measured and drains the backlog after it.
      const pausedKey = "clicks:paused";
      const paused = await start(
        startEdgelink({
          name: "edgelink×2 recording on, consumer paused",
          settings: {
            ...common,
            REDIS_URL: redisDb(redis.url, 2),
            CLICK_RECORDING: "on",
            CLICK_CONSUMER: "off",
            CLICK_STREAM_KEY: pausedKey,
          },
          cores: placement.clusterServer,
          profileDir: ctx.profileDir,
          bundle: ctx.bundle,
        }),
      );
      pausedConsumer = await startConsumerProcess({
        bundle: ctx.bundle,
        cores: placement.clusterServer,
        settings: {
          DATABASE_URL: postgres.url,
          REDIS_URL: redisDb(redis.url, 2),
          CLICK_STREAM_KEY: pausedKey,
        },
      });
      const consumer = pausedConsumer;

      watcher = streamWatcher(redisDb(redis.url, 1), undefined, { timeoutMs: drainTimeoutMs });
      pausedWatcher = streamWatcher(redisDb(redis.url, 2), pausedKey, { timeoutMs: drainTimeoutMs });
      const stream = watcher;
      const pausedStream = pausedWatcher;

      const expectMixRedirect = (server: Server) => async () => {
        const { status, headers } = await probe(server.port, `/${slugPrefix}1`, {
          headers: { "user-agent": browser },
        });
        const location = headers.get("location");
        const cacheControl = headers.get("cache-control");
        if (status !== 302 || location !== `${target}/1` || cacheControl !== "private, max-age=0") {
          throw new Error(
            `${server.name}: expected 302 ${target}/1 private, max-age=0; got ${status} ${location} ${cacheControl}`,
          );
        }
        return `302 Location: ${location}, Cache-Control: ${cacheControl}`;
      };
      const backingPids = async () => [...(redis.pid ? [redis.pid] : []), ...(await postgres.backendPids())];
      /** Lookups by tier, served clicks by class and Redis commands over one measurement. */
      const counts = (server: Server) => ({
        before: async () => ({ metrics: await readMetrics(server.port), calls: await redis.commandCalls() }),
        delta: async (before: unknown) => {
          const b = before as { metrics: Map<string, number>; calls: Record<string, number> };
          const now = await readMetrics(server.port);
          const extra: Record<string, number> = {};
          for (const tier of tiers) {
            const key = `link_cache_lookups_total{tier="${tier}"}`;
            extra[`tier.${tier}`] = metric(now, key) - metric(b.metrics, key);
          }
          for (const traffic of [...storedClasses, "head", "prefetch", "unrecorded"]) {
            const served = metric(now, servedKey(traffic)) - metric(b.metrics, servedKey(traffic));
            if (served > 0) extra[`served.${traffic}`] = served;
          }
          for (const [command, calls] of Object.entries(callDelta(b.calls, await redis.commandCalls())))
            extra[`redis.${command}`] = calls;
          return extra;
        },
      });
      /**
       * A recording row's counts, then the backlog it left, drained before the next row starts (the
       * drain is charged to this row, not the next); `release` lets a frozen consumer go first.
       */
      const countAndDrain = async (
        rowCounts: ReturnType<typeof counts>,
        watched: ReturnType<typeof streamWatcher>,
        before: unknown,
        release?: () => void,
      ) => {
        const extra = await rowCounts.delta(before);
        const { pending, undelivered } = await watched.backlog();
        release?.();
        const drain = await watched.drained();
        return {
          ...extra,
          backlogAtEnd: pending + undelivered,
          drainSec: drain.seconds,
          drained: drain.drained ? 1 : 0,
        };
      };
      const offCounts = counts(off);
      const onCounts = counts(on);
      const pausedCounts = counts(paused);
      const config =
        "edgelink node:cluster ×2: real Postgres (throw-away database) + Redis, LRU (LINK_CACHE_LOCAL_MAX 50000, " +
        `5 s) → Redis (1 h) → Postgres, local-first redirect limiter (RATE_LIMIT_REDIRECT=${unreachedRedirectLimit})`;
      const rows: Row[] = [
        {
          id: "bare-http-x2",
          label: "bare node:http",
          procs: 2,
          config: `node:http in node:cluster ×2, 302 from a Map of the same ${int(linkCount)} links`,
          server: bare,
          shape,
          expect: [302],
          preflight: expectMixRedirect(bare),
        },
        {
          id: "edgelink-x2-off",
          label: "edgelink, recording off",
          procs: 2,
          config: `${config}; CLICK_RECORDING=off (redirects counted in metrics only), CLICK_CONSUMER=off`,
          server: off,
          shape,
          baseline: "bare-http-x2",
          expect: [302],
          preflight: expectMixRedirect(off),
          backingPids,
          before: offCounts.before,
          after: (before) => offCounts.delta(before),
        },
        {
          id: "edgelink-x2-on",
          label: "edgelink, recording on",
          procs: 2,
          config:
            `${config}; CLICK_RECORDING=on: each redirect classified, enriched and XADDed to the Redis Stream ` +
            "after the response; the cluster's consumer process (CLICK_CONSUMER_NICE 10, CLICK_BATCH_SIZE 500) stores " +
            "them in Postgres",
          server: on,
          shape,
          baseline: "edgelink-x2-off",
          expect: [302],
          preflight: expectMixRedirect(on),
          backingPids,
          before: onCounts.before,
          after: (before) => countAndDrain(onCounts, stream, before),
        },
        {
          id: "edgelink-x2-on-paused",
          label: "edgelink, recording on, consumer paused",
          procs: 2,
          config:
            `${config}; CLICK_RECORDING=on, CLICK_CONSUMER=off, CLICK_STREAM_KEY=${pausedKey}: the serving side of ` +
            "recording alone (classify, enrich, hash, XADD); its stream's consumer (dist/node/consumer.js) is " +
            "stopped with SIGSTOP while the row is measured and drains the backlog after it",
          server: paused,
          shape,
          baseline: "edgelink-x2-off",
          expect: [302],
          preflight: expectMixRedirect(paused),
          backingPids,
          before: async () => {
            consumer.signal("SIGSTOP");
            return pausedCounts.before();
          },
          after: (before) =>
            countAndDrain(pausedCounts, pausedStream, before, () => consumer.signal("SIGCONT")),
        },
      ];
      return {
        rows,
        async beforeRounds() {
          // The warm-up of the recording rows leaves a backlog; no measurement starts on top of it.
          await stream.drained();
          await pausedStream.drained();
        },
        async afterRounds(measurements: Measurement[]) {
          const lines: string[] = [];
          const summary = (id: string) => {
            const mine = measurements.filter((m) => m.row === id);
            const sum = (key: string) => mine.reduce((a, m) => a + (m.extra[key] ?? 0), 0);
            const lookups = tiers.map((tier) => sum(`tier.${tier}`));
            const total = lookups.reduce((a, b) => a + b, 0);
            const share = tiers
              .map((tier, i) => `${tier} ${((lookups[i]! / Math.max(1, total)) * 100).toFixed(1)}%`)
              .join(", ");
            return { mine, sum, total, share };
          };
          for (const id of ["edgelink-x2-off", "edgelink-x2-on", "edgelink-x2-on-paused"]) {
            const { mine, total, share } = summary(id);
            if (mine.length === 0) continue;
            lines.push(
              `tiers, ${id}: ${int(total)} lookups in the measured windows: ${share} (link_cache_lookups_total)`,
            );
          }
          const recordingRows = ["edgelink-x2-on", "edgelink-x2-on-paused"].map((id) => ({
            id,
            ...summary(id),
          }));
          if (recordingRows.every((row) => row.mine.length === 0)) return lines;
          for (const runs of recordingRows) {
            if (runs.mine.length === 0) continue;
            const xadds = runs.sum("redis.xadd");
            const served = storedClasses.reduce((a, c) => a + runs.sum(`served.${c}`), 0);
            lines.push(
              `recording, ${runs.id}: ${int(served)} storable clicks served in the measured windows ` +
                `(${storedClasses.map((c) => `${c} ${int(runs.sum(`served.${c}`))}`).join(", ")}); ` +
                `${int(xadds)} XADDs; stream backlog when each measurement ended: ` +
                `${runs.mine.map((m) => int(m.extra.backlogAtEnd ?? 0)).join(", ")} entries, drained in ` +
                `${runs.mine.map((m) => (m.extra.drainSec ?? 0).toFixed(1)).join(", ")} s`,
            );
          }

          const drain = await stream.drained();
          const pausedDrain = await pausedStream.drained();
          // Both recording clusters serve the same workspace's links: the rows are their sum.
          let stable = true;
          const again = new Map<string, number>();
          for (const server of [on, paused]) {
            const metrics = await readMetrics(server.port);
            // A cluster scrape answers whatever workers replied within 1 s: read until two agree.
            const second = await readMetrics(server.port);
            stable &&= storedClasses.every(
              (c) => metric(metrics, servedKey(c)) === metric(second, servedKey(c)),
            );
            for (const [key, value] of second) again.set(key, (again.get(key) ?? 0) + value);
          }
          const stored = await storedClicks(postgres, workspaceId);
          const deadLettered = (await stream.deadLettered()) + (await pausedStream.deadLettered());
          const problems: string[] = [];
          const perClass = storedClasses.map((traffic) => {
            const servedCount = metric(again, servedKey(traffic));
            const rows = stored.byClass[traffic]?.rows ?? 0;
            const ids = stored.byClass[traffic]?.ids ?? 0;
            if (rows !== servedCount)
              problems.push(`${traffic}: ${int(rows)} stored ≠ ${int(servedCount)} served`);
            if (ids !== rows) problems.push(`${traffic}: ${int(rows - ids)} duplicate event ids`);
            return `${traffic} ${int(servedCount)} served / ${int(rows)} stored (${int(ids)} distinct event ids)`;
          });
          const storedTotal = Object.values(stored.byClass).reduce((a, c) => a + c.rows, 0);
          const unexpectedClasses = Object.keys(stored.byClass).filter((c) => !storedClasses.includes(c));
          if (unexpectedClasses.length > 0) problems.push(`rows of class ${unexpectedClasses.join(", ")}`);
          if (stored.rollupTotal !== storedTotal)
            problems.push(`rollups count ${int(stored.rollupTotal)} ≠ ${int(storedTotal)} raw rows`);
          const dropped = counterTotal(again, "clicks_dropped_total");
          if (dropped > 0) problems.push(`${int(dropped)} clicks dropped`);
          if (deadLettered > 0) problems.push(`${int(deadLettered)} entries dead-lettered`);
          if (!drain.drained || !pausedDrain.drained)
            problems.push(`stream not drained after ${drainTimeoutMs / 1000} s`);
          if (!stable) problems.push("the cluster's /metrics answered differently twice in a row");
          const redelivered = counterTotal(again, "click_queue_duplicates_total");
          lines.push(
            `${problems.length === 0 ? "count check OK" : `! COUNT CHECK FAILED (${problems.join("; ")})`}: ` +
              `after the streams drained, clicks_served_total of the two recording clusters (everything they served ` +
              `since they started: warm-up, preflight and measurements) against rows in Postgres: ${perClass.join(", ")}; ` +
              `rollups (day, total) sum to ${int(stored.rollupTotal)} = ${int(storedTotal)} raw rows; ` +
              `${int(redelivered)} redeliveries absorbed by the idempotent ingest (the clusters' own consumer), ${int(deadLettered)} dead-lettered, ` +
              `${int(dropped)} dropped.`,
          );
          return lines;
        },
        teardown: cleanup,
      } satisfies ScenarioRun;
    } catch (error) {
      await cleanup();
      throw error;
    }
  },
};
