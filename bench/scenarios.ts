/**
 * The scenarios (names are stable: add more, never rename). Each sets up its servers, states their
 * configuration, and checks one answer of every row before measuring.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { callDelta } from "./lib/backing";
import { placement } from "./lib/proc";
import type { Measurement } from "./lib/report";
import type { Context, Row, Scenario, ScenarioRun } from "./lib/scenario";
import {
  counterTotal,
  createWorkspaceKey,
  hotLink,
  probe,
  readMetrics,
  type Server,
  seedLink,
  startBaseline,
  startEdgelink,
} from "./lib/servers";
import { redirectMix } from "./scenario-redirect-mix";
import { dataScenarios } from "./scenarios-data";

/** A redirect limit no single benchmark client reaches: the limiter runs on every request, never refuses. */
const unreachedRedirectLimit = "1000000000/60s";
/** Distinct unknown slugs per redirect-miss measurement (fresh ones every measurement). */
const missDistinct = 5_000;
const negativeTtlSeconds = 30;

/** Checks a 302 for the hot link: status, Location, Cache-Control (and, for edgelink, RateLimit). */
function expectRedirect(server: Server, limited: boolean): () => Promise<string> {
  return async () => {
    const { status, headers } = await probe(server.port, `/${hotLink.slug}`);
    const location = headers.get("location");
    const cacheControl = headers.get("cache-control");
    if (status !== 302 || location !== hotLink.url || cacheControl !== "private, max-age=0") {
      throw new Error(
        `${server.name}: expected 302 ${hotLink.url} private, max-age=0; got ${status} ${location} ${cacheControl}`,
      );
    }
    const rateLimit = headers.get("ratelimit");
    if (limited && !rateLimit) throw new Error(`${server.name}: no RateLimit field: is the limiter on?`);
    return `302 Location: ${location}, Cache-Control: ${cacheControl}${rateLimit ? `, RateLimit: ${rateLimit}` : ""}`;
  };
}

function expectStatus(
  server: Server,
  path: string,
  status: number,
  init?: RequestInit,
  times = 1,
): () => Promise<string> {
  return async () => {
    let answer = await probe(server.port, path, init);
    for (let i = 1; i < times; i += 1) answer = await probe(server.port, path, init);
    if (answer.status !== status) {
      throw new Error(
        `${server.name} ${path}: expected ${status}, got ${answer.status} ${answer.body.slice(0, 300)}`,
      );
    }
    const retryAfter = answer.headers.get("retry-after");
    return `${answer.status} ${answer.headers.get("content-type") ?? ""}${retryAfter ? ` Retry-After: ${retryAfter}` : ""}`;
  };
}

async function stopAll(servers: Server[]): Promise<void> {
  await Promise.all(servers.map((server) => server.stop()));
}

/**
 * Waits until the server's click consumer has caught up (its ingested count stops moving for a
 * second; at most 2 min), so that a recording row's backlog is not stored during the next row's
 * measurement. Answers the seconds it took.
 */
async function settleClicks(port: number): Promise<number> {
  const started = performance.now();
  const ingested = async () => counterTotal(await readMetrics(port), "click_queue_ingested_total");
  let last = await ingested();
  let still = 0;
  while (still < 2 && performance.now() - started < 120_000) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = await ingested();
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return (performance.now() - started) / 1000;
}

/** `after` of a recording row: its own figures, then the wait for its click backlog (`clickDrainSec`). */
function thenSettle(
  port: number,
  after: (before: unknown, requests: number) => Promise<Record<string, number>>,
): (before: unknown, requests: number) => Promise<Record<string, number>> {
  return async (before, requests) => {
    const extra = await after(before, requests);
    return { ...extra, clickDrainSec: await settleClicks(port) };
  };
}

/** Redis commands (per command) and lookups by tier around a measurement of an edgelink cluster. */
function redisAndTiers(ctx: Context, server: Server) {
  return {
    before: async () => ({
      calls: await (await ctx.redis()).commandCalls(),
      metrics: await readMetrics(server.port),
    }),
    after: async (before: unknown, requests: number) => {
      const b = before as { calls: Record<string, number>; metrics: Map<string, number> };
      const redis = await ctx.redis();
      const delta = callDelta(b.calls, await redis.commandCalls());
      const metrics = await readMetrics(server.port);
      const tier = (name: string) => {
        const key = `link_cache_lookups_total{tier="${name}"}`;
        return (metrics.get(key) ?? 0) - (b.metrics.get(key) ?? 0);
      };
      const total = Object.values(delta).reduce((a, c) => a + c, 0);
      const extra: Record<string, number> = {
        redisCalls: total,
        redisCallsPer1kReq: (total / Math.max(1, requests)) * 1000,
        localTierHits: tier("local"),
        redisTierHits: tier("redis"),
        postgresTierLookups: tier("postgres"),
        // Redis errors or answers slower than the 100 ms budget: such a lookup falls through to Postgres.
        redisErrorsOrSlow: tier("redis_error"),
      };
      for (const [command, calls] of Object.entries(delta)) extra[`redis.${command}`] = calls;
      return extra;
    },
  };
}

const redirectHot: Scenario = {
  name: "redirect-hot",
  title: "one slug served from the in-process tier (302)",
  measures:
    "GET /hot → 302 with Location and Cache-Control, the link answered by the in-process LRU; the redirect " +
    "rate limiter runs on every request (limit set out of reach so that no answer is a 429).",
  connections: 64,
  needsPostgres: true,
  async setup(ctx) {
    const servers: Server[] = [];
    const start = async <T extends Server>(promise: Promise<T>) => {
      const server = await promise;
      servers.push(server);
      return server;
    };
    const dataDirs: string[] = [];
    const cleanup = async () => {
      await stopAll(servers);
      for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
    };
    try {
      const hot = () => ({ mode: "fixed" as const, path: `/${hotLink.slug}` });
      const baselineRow = (
        id: string,
        label: string,
        procs: number,
        config: string,
        server: Server,
        baseline?: string,
      ): Row => ({
        id,
        label,
        procs,
        config,
        server,
        shape: hot,
        baseline,
        expect: [302],
        preflight: expectRedirect(server, false),
      });
      const bare1 = await start(startBaseline("bare-http", 1, placement.singleServer));
      const fastify1 = await start(startBaseline("fastify", 1, placement.singleServer));
      const bareHeaders1 = await start(
        startBaseline("bare-http", 1, placement.singleServer, { BENCH_HEADERS: "edgelink" }),
      );
      const hono1 = await start(startBaseline("hono", 1, placement.singleServer));
      const honoHeaders1 = await start(
        startBaseline("hono", 1, placement.singleServer, { BENCH_HEADERS: "edgelink" }),
      );
      const bundles: { suffix: string; label: string; bundle?: string }[] = [
        { suffix: "", label: "", bundle: ctx.bundle },
      ];
      if (ctx.compareBundle)
        bundles.push({ suffix: "-compare", label: " [compare]", bundle: ctx.compareBundle });

      // Clicks recorded (the default) and not (CLICK_RECORDING=off): the redirect path alone, and
      // what the click hand-off adds to it in the same run.
      const variants = [
        { suffix: "", label: "", recording: "on" as const },
        { suffix: "-norec", label: " [recording off]", recording: "off" as const },
      ];
      const singles: Row[] = [];
      for (const { suffix: bundleSuffix, label: bundleLabel, bundle } of bundles)
        for (const variant of variants) {
          const suffix = `${bundleSuffix}${variant.suffix}`;
          const label = `${bundleLabel}${variant.label}`;
          ctx.log(`  seeding an embedded PGlite (admin CLI, then POST /api/v1/links)${label}…`);
          const dataDir = mkdtempSync(join(tmpdir(), "edgelink-bench-"));
          dataDirs.push(dataDir);
          const pgliteSettings = { PGLITE_DATA_DIR: join(dataDir, "pglite") };
          const embeddedKey = await createWorkspaceKey(pgliteSettings);
          const edge1 = await start(
            startEdgelink({
              name: `edgelink×1${label}`,
              settings: {
                ...pgliteSettings,
                RATE_LIMIT_REDIRECT: unreachedRedirectLimit,
                CLICK_RECORDING: variant.recording,
              },
              cores: placement.singleServer,
              profileDir: ctx.profileDir,
              bundle,
            }),
          );
          await seedLink(edge1.port, embeddedKey, hotLink);
          const tiers = async () => readMetrics(edge1.port);
          singles.push({
            id: `edgelink-x1${suffix}`,
            label: `edgelink (PGlite)${label}`,
            procs: 1,
            config:
              `edgelink${bundle ? ` built as ${bundle}` : ""} single process: embedded PGlite, in-process LRU → in-process cache, in-process rate limiter ` +
              `(RATE_LIMIT_REDIRECT=${unreachedRedirectLimit}), CLICK_RECORDING=${variant.recording} ` +
              `(${variant.recording === "on" ? "every redirect classified, enriched and stored in PGlite by this same process" : "no click queued or stored"}), ` +
              `NODE_ENV=production, --enable-source-maps`,
            server: edge1,
            shape: hot,
            baseline: "bare-http-x1",
            expect: [302],
            preflight: expectRedirect(edge1, true),
            before: tiers,
            after: (() => {
              const after = async (before: unknown) => {
                const b = before as Map<string, number>;
                const a = await tiers();
                const key = 'link_cache_lookups_total{tier="local"}';
                // The embedded queue holds 10,000 events; past that it sheds clicks (counted), which
                // makes the redirects it still serves cheaper: say so next to the rate.
                const extra: Record<string, number> = {
                  localTierHits: (a.get(key) ?? 0) - (b.get(key) ?? 0),
                };
                if (variant.recording === "on") {
                  extra.clicksDropped =
                    counterTotal(a, "clicks_dropped_total") - counterTotal(b, "clicks_dropped_total");
                }
                return extra;
              };
              return variant.recording === "on" ? thenSettle(edge1.port, after) : after;
            })(),
          });
        }

      const bare2 = await start(startBaseline("bare-http", 2, placement.clusterServer));
      const express2 = await start(startBaseline("express", 2, placement.clusterServer));
      const postgres = await ctx.postgres();
      const redis = await ctx.redis();
      await redis.flush();
      const clusters: Row[] = [];
      for (const { suffix: bundleSuffix, label: bundleLabel, bundle } of bundles)
        for (const variant of variants) {
          const suffix = `${bundleSuffix}${variant.suffix}`;
          const label = `${bundleLabel}${variant.label}`;
          const edge2 = await start(
            startEdgelink({
              name: `edgelink×2${label}`,
              settings: {
                DATABASE_URL: postgres.url,
                REDIS_URL: redis.url,
                WEB_CONCURRENCY: "2",
                RATE_LIMIT_REDIRECT: unreachedRedirectLimit,
                CLICK_RECORDING: variant.recording,
              },
              cores: placement.clusterServer,
              profileDir: ctx.profileDir,
              bundle,
            }),
          );
          await seedLink(edge2.port, await ctx.postgresKey(), hotLink);
          clusters.push({
            id: `edgelink-x2${suffix}`,
            label: `edgelink (Postgres+Redis)${label}`,
            procs: 2,
            config:
              `edgelink${bundle ? ` built as ${bundle}` : ""} node:cluster ×2: real Postgres (throw-away database) + Redis, LRU → Redis → Postgres, ` +
              `local-first redirect limiter reconciling with Redis (RATE_LIMIT_REDIRECT=${unreachedRedirectLimit}), ` +
              `CLICK_RECORDING=${variant.recording}${variant.recording === "on" ? " (clicks to a Redis Stream, consumed into Postgres by the cluster's consumer process)" : ""}`,
            server: edge2,
            shape: hot,
            baseline: "bare-http-x2",
            expect: [302],
            preflight: expectRedirect(edge2, true),
            backingPids: async () => [...(redis.pid ? [redis.pid] : [])],
            ...(() => {
              const { before, after } = redisAndTiers(ctx, edge2);
              return { before, after: variant.recording === "on" ? thenSettle(edge2.port, after) : after };
            })(),
          });
        }

      const rows: Row[] = [
        baselineRow("bare-http-x1", "bare node:http", 1, "node:http, 302 from a Map", bare1),
        baselineRow(
          "bare-http-headers-x1",
          "bare node:http + edgelink's 6 fields",
          1,
          "bare node:http as above, also sending X-Request-Id and the five RateLimit fields (plain object, constant " +
            "values): what the fields edgelink must send cost on the wire, without any framework",
          bareHeaders1,
          "bare-http-x1",
        ),
        baselineRow(
          "fastify-x1",
          "fastify 5",
          1,
          "Fastify 5, same route and Map, logger off",
          fastify1,
          "bare-http-x1",
        ),
        baselineRow(
          "hono-x1",
          "hono (no middleware)",
          1,
          "Hono 4 on @hono/node-server, same route and Map: the framework alone",
          hono1,
          "bare-http-x1",
        ),
        baselineRow(
          "hono-headers-x1",
          "hono + edgelink's 6 fields",
          1,
          "Hono as above, also sending X-Request-Id and the five RateLimit fields through Headers (constant values): " +
            "what the fields edgelink must send cost the framework",
          honoHeaders1,
          "bare-http-x1",
        ),
        ...singles,
        baselineRow(
          "bare-http-x2",
          "bare node:http",
          2,
          "node:http in node:cluster ×2, 302 from a Map",
          bare2,
        ),
        baselineRow(
          "express-x2",
          "express 5 cluster",
          2,
          "Express 5 in node:cluster ×2 (the seed article's shape), same route and Map",
          express2,
          "bare-http-x2",
        ),
        ...clusters,
      ];
      return {
        rows,
        async afterRounds(measurements) {
          const lines: string[] = [];
          for (const row of clusters.map((r) => r.id)) {
            const mine = measurements.filter((m) => m.row === row);
            if (mine.length === 0) continue;
            const requests = mine.reduce((a, m) => a + m.result.requests, 0);
            const calls = mine.reduce((a, m) => a + (m.extra.redisCalls ?? 0), 0);
            const byCommand: Record<string, number> = {};
            for (const m of mine) {
              for (const [k, v] of Object.entries(m.extra)) {
                if (k.startsWith("redis.")) byCommand[k.slice(6)] = (byCommand[k.slice(6)] ?? 0) + v;
              }
            }
            const seconds = mine.reduce((a, m) => a + m.result.durationSec, 0);
            const per1k = (n: number) => ((n / requests) * 1000).toFixed(3);
            const clickCommands = ["xadd", "xreadgroup", "xack", "xautoclaim", "xinfo|groups"].reduce(
              (a, k) => a + (byCommand[k] ?? 0),
              0,
            );
            const evalsha = byCommand.evalsha ?? 0;
            lines.push(
              `${row}: ${requests.toLocaleString("en-US")} redirects in ${mine.length} runs (${seconds.toFixed(0)} s); Redis ` +
                `executed ${calls} commands (${per1k(calls)} per 1k redirects; ${JSON.stringify(byCommand)}). ` +
                `Rate limiter: ${evalsha} syncs (EVALSHA, ≤ 1/s per worker; commandstats also counts the INCRBY/PEXPIRE/GET ` +
                `inside each), none per request. Click pipeline (stream commands): ${per1k(clickCommands)} per 1k redirects. ` +
                `The rest: GETs of LRU refills (entries live 5 s per worker). ` +
                `${redis.private ? "" : "(shared Redis: counts include its other clients)"}`,
            );
          }
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

/** Requests every path once, `concurrency` at a time, from the harness (not measured). */
async function visitAll(port: number, paths: string[], concurrency = 64): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const path = paths[next++]!;
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { redirect: "manual" });
      await response.arrayBuffer();
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

const loadsKey = "link_cache_db_loads_total";

const redirectMiss: Scenario = {
  name: "redirect-miss",
  title: "unknown slugs → 404 (negative cache)",
  measures:
    `GET /<unknown slug> against the cluster, two shapes. "seen": ${missDistinct} unknown slugs, each requested ` +
    "once just before the measurement (the warm pass, from the harness), then cycled for the whole measurement — " +
    `the negative cache (NEGATIVE_CACHE_TTL_SECONDS=${negativeTtlSeconds}: in-process for min(5 s, TTL), then ` +
    'Redis, shared by the workers) must answer every one without Postgres. "first sight": a new unknown slug on ' +
    "every request — each costs its one Postgres read by design; this is the price of a miss flood of distinct " +
    "slugs. Postgres reads are counted from link_cache_db_loads_total (summed over the workers) and the total is " +
    "checked against pg_stat_database.xact_commit of the throw-away database.",
  connections: 64,
  needsPostgres: true,
  async setup(ctx) {
    const servers: Server[] = [];
    try {
      const bare2 = await startBaseline("bare-http", 2, placement.clusterServer);
      servers.push(bare2);
      const postgres = await ctx.postgres();
      const redis = await ctx.redis();
      await redis.flush();
      const edge2 = await startEdgelink({
        name: "edgelink×2",
        settings: {
          DATABASE_URL: postgres.url,
          REDIS_URL: redis.url,
          WEB_CONCURRENCY: "2",
          RATE_LIMIT_REDIRECT: unreachedRedirectLimit,
          NEGATIVE_CACHE_TTL_SECONDS: String(negativeTtlSeconds),
        },
        cores: placement.clusterServer,
        profileDir: ctx.profileDir,
        bundle: ctx.bundle,
      });
      servers.push(edge2);
      const loads = async () => (await readMetrics(edge2.port)).get(loadsKey) ?? 0;
      const tiersAndRedis = redisAndTiers(ctx, edge2);
      const backingPids = async () => [...(redis.pid ? [redis.pid] : []), ...(await postgres.backendPids())];
      // The "seen" row's slugs: fresh per measurement, warmed by `before`, then cycled by the load.
      let seenPrefix = `s${Date.now().toString(36)}`;
      let xactBefore = 0;
      let loadsBefore = 0;
      const config =
        "edgelink node:cluster ×2: real Postgres + Redis, negative cache (in-process min(5 s, TTL) → Redis TTL " +
        `${negativeTtlSeconds} s), local-first redirect limiter`;
      const rows: Row[] = [
        {
          id: "bare-http-x2",
          label: "bare node:http (404)",
          procs: 2,
          config: "node:http in node:cluster ×2, 404 problem JSON for a slug not in the Map",
          server: bare2,
          shape: () => ({ mode: "cycle", distinct: missDistinct }),
          expect: [404],
          preflight: expectStatus(bare2, "/no-such-slug", 404),
        },
        {
          id: "edgelink-x2-seen",
          label: `edgelink, ${missDistinct} unknown slugs seen`,
          procs: 2,
          config: `${config}; ${missDistinct} slugs warmed once, then cycled`,
          server: edge2,
          shape: () => ({ mode: "cycle", distinct: missDistinct, prefix: seenPrefix }),
          baseline: "bare-http-x2",
          expect: [404],
          preflight: expectStatus(edge2, "/no-such-slug", 404),
          backingPids,
          before: async () => {
            seenPrefix = `s${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
            const atStart = await loads();
            const paths = Array.from({ length: missDistinct }, (_, i) => `/${seenPrefix}${i + 1}`);
            const warmStarted = performance.now();
            const statuses = await visitAll(edge2.port, paths);
            const warmSec = (performance.now() - warmStarted) / 1000;
            if (Object.keys(statuses).some((status) => status !== "404")) {
              throw new Error(`warm pass answered ${JSON.stringify(statuses)}, not only 404`);
            }
            return { atStart, afterWarm: await loads(), warmSec, inner: await tiersAndRedis.before() };
          },
          after: async (before, requests) => {
            const b = before as { atStart: number; afterWarm: number; warmSec: number; inner: unknown };
            const extra = await tiersAndRedis.after(b.inner, requests);
            const atEnd = await loads();
            return {
              warmPassLoads: b.afterWarm - b.atStart,
              warmPassSec: b.warmSec,
              measuredLoads: atEnd - b.afterWarm,
              loadsPerSlug: (atEnd - b.atStart) / missDistinct,
              ...extra,
            };
          },
        },
        {
          id: "edgelink-x2-first",
          label: "edgelink, first sight each",
          procs: 2,
          config: `${config}; a never-seen slug on every request`,
          server: edge2,
          shape: () => ({ mode: "cycle", distinct: 1_000_000_000 }),
          baseline: "bare-http-x2",
          expect: [404],
          preflight: expectStatus(edge2, "/no-such-slug-either", 404),
          backingPids,
          before: loads,
          after: async (before, requests) => {
            const measured = (await loads()) - (before as number);
            // Requests still in flight when the generator stops are served (and loaded) but not counted by it.
            return { measuredLoads: measured, requests, loadsPerRequest: measured / Math.max(1, requests) };
          },
        },
      ];
      return {
        rows,
        async beforeRounds() {
          xactBefore = await postgres.settledXactCommit();
          loadsBefore = await loads();
        },
        async afterRounds(measurements: Measurement[]) {
          const seen = measurements.filter((m) => m.row === "edgelink-x2-seen");
          const first = measurements.filter((m) => m.row === "edgelink-x2-first");
          if (seen.length === 0 && first.length === 0) return [];
          const xact = (await postgres.settledXactCommit()) - xactBefore;
          const totalLoads = (await loads()) - loadsBefore;
          const lines: string[] = [];
          if (seen.length > 0) {
            const requests = seen.reduce((a, m) => a + m.result.requests, 0);
            const warm = seen.map((m) => m.extra.warmPassLoads ?? 0);
            const measured = seen.map((m) => m.extra.measuredLoads ?? 0);
            const redisGets = seen.reduce((a, m) => a + (m.extra["redis.get"] ?? 0), 0);
            lines.push(
              `negative cache, seen slugs: ${seen.length} runs × ${missDistinct} unknown slugs; the warm pass (first sight) ` +
                `cost ${warm.join(", ")} Postgres reads, then ${requests.toLocaleString("en-US")} repeated misses within ` +
                `the TTL cost ${measured.join(", ")} (total ${seen.map((m) => (m.extra.loadsPerSlug ?? 0).toFixed(4)).join(", ")} ` +
                `per slug; aim ≤ 1 per slug per TTL across the cluster, ≤ 2 if both workers race on first sight; ` +
                `Redis lookups that failed or took over 100 ms and so fell through to Postgres: ` +
                `${seen.map((m) => m.extra.redisErrorsOrSlow ?? 0).join(", ")}). ` +
                `Redis answered them: ${redisGets.toLocaleString("en-US")} GETs in the measured windows (in-process entries ` +
                "expire after 5 s, then each worker asks Redis once per slug per 5 s).",
            );
          }
          if (first.length > 0) {
            const requests = first.reduce((a, m) => a + m.result.requests, 0);
            const measured = first.reduce((a, m) => a + (m.extra.measuredLoads ?? 0), 0);
            lines.push(
              `first sight: ${requests.toLocaleString("en-US")} never-seen slugs cost ${measured.toLocaleString("en-US")} ` +
                "Postgres reads (one each, by design; the excess over the request count is the requests in flight " +
                "when the generator stopped).",
            );
          }
          lines.push(
            `cross-check: link_cache_db_loads_total rose by ${totalLoads.toLocaleString("en-US")} over all rounds ` +
              `(warm passes included); pg_stat_database.xact_commit of the bench database by ${xact.toLocaleString("en-US")}.`,
          );
          return lines;
        },
        teardown: () => stopAll(servers),
      } satisfies ScenarioRun;
    } catch (error) {
      await stopAll(servers);
      throw error;
    }
  },
};

const apiCreate: Scenario = {
  name: "api-create",
  title: "authenticated POST /api/v1/links (validation, rate limit, insert)",
  measures:
    "POST /api/v1/links with a Bearer API key, a unique JSON body per request (unique url, generated slug): " +
    "auth (cached key lookup), api-write rate limit (@upstash/ratelimit over Redis, limit out of reach), zod " +
    "validation, URL safety, insert into Postgres. Compared with edgelink's own GET /healthz in the same run " +
    "(no baseline framework). A second cluster with RATE_LIMIT_API_WRITE=1/1h shows what a 429 costs.",
  connections: 32,
  needsPostgres: true,
  async setup(ctx) {
    const servers: Server[] = [];
    try {
      const postgres = await ctx.postgres();
      const redis = await ctx.redis();
      await redis.flush();
      const key = await ctx.postgresKey();
      const common = { DATABASE_URL: postgres.url, REDIS_URL: redis.url, WEB_CONCURRENCY: "2" };
      const open = await startEdgelink({
        name: "edgelink×2",
        settings: { ...common, RATE_LIMIT_API_WRITE: "1000000000/60s" },
        cores: placement.clusterServer,
        profileDir: ctx.profileDir,
        bundle: ctx.bundle,
      });
      servers.push(open);
      const limited = await startEdgelink({
        name: "edgelink×2 (1/1h)",
        settings: { ...common, RATE_LIMIT_API_WRITE: "1/1h" },
        cores: placement.clusterServer,
        bundle: ctx.bundle,
      });
      servers.push(limited);
      const post = (url: string): RequestInit => ({
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ url }),
      });
      const backingPids = async () => [...(redis.pid ? [redis.pid] : []), ...(await postgres.backendPids())];
      const redisCalls = (server: Server) => {
        const inner = redisAndTiers(ctx, server);
        return {
          before: inner.before,
          after: async (before: unknown, requests: number) => {
            const all = await inner.after(before, requests);
            return Object.fromEntries(Object.entries(all).filter(([k]) => k.startsWith("redis")));
          },
        };
      };
      const rows: Row[] = [
        {
          id: "healthz-x2",
          label: "edgelink GET /healthz",
          procs: 2,
          config: "edgelink node:cluster ×2 (Postgres + Redis): GET /healthz, the app's cheapest route",
          server: open,
          shape: () => ({ mode: "fixed", path: "/healthz" }),
          expect: [200],
          preflight: expectStatus(open, "/healthz", 200),
        },
        {
          id: "create-x2",
          label: "edgelink POST /links",
          procs: 2,
          config:
            "same cluster: POST /api/v1/links, unique url per request, generated slug, RATE_LIMIT_API_WRITE=1000000000/60s",
          server: open,
          shape: () => ({ mode: "create", path: "/api/v1/links", auth: key }),
          baseline: "healthz-x2",
          expect: [201],
          preflight: expectStatus(open, "/api/v1/links", 201, post("https://example.com/bench/preflight")),
          backingPids,
          before: redisCalls(open).before,
          after: async (before, requests, codes, prefix) => {
            const extra = await redisCalls(open).after(before, requests);
            const rows = await postgres.countLinks(`https://example.com/bench/${prefix}/%`);
            return { ...extra, created201: codes["201"] ?? 0, rowsInPostgres: rows };
          },
        },
        {
          id: "create-429-x2",
          label: "edgelink POST /links → 429",
          procs: 2,
          config: "second cluster, RATE_LIMIT_API_WRITE=1/1h: every request past the first is refused (429)",
          server: limited,
          shape: () => ({ mode: "create", path: "/api/v1/links", auth: key }),
          baseline: "healthz-x2",
          expect: [429],
          preflight: expectStatus(
            limited,
            "/api/v1/links",
            429,
            post("https://example.com/bench/preflight"),
            2,
          ),
          backingPids,
          ...redisCalls(limited),
        },
      ];
      return { rows, teardown: () => stopAll(servers) } satisfies ScenarioRun;
    } catch (error) {
      await stopAll(servers);
      throw error;
    }
  },
};

export const scenarios: Scenario[] = [redirectHot, redirectMix, redirectMiss, apiCreate, ...dataScenarios];
