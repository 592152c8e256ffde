/**
 * `click-ingest`: what storing a click costs, apart from serving it. A Redis Stream filled with
 * click events (redirect-mix's shape: Zipf over 100k links, a browser mix, referrers, countries)
 * drained by `dist/node/consumer.js` — the consumer role, as a cluster forks it — timed from the
 * consumer's start-up log line to an empty group, with the CPU the consumer and the Postgres
 * backends spent per click. Baseline: a plain script storing the same events as raw rows only
 * (multi-row INSERT … ON CONFLICT DO NOTHING, same batch size), the floor under any ingest.
 */

import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import type pg from "pg";
import { consumerEntry, startConsumerProcess, streamWatcher } from "./lib/click-stream";
import { harnessClient, int, runChild } from "./lib/data-jobs";
import type { JobResult, JobRow, JobScenario } from "./lib/job";
import { cpuBetween, placement, sampleCpu } from "./lib/proc";
import type { Context } from "./lib/scenario";

const linkCount = 100_000;
const defaultClicks = 50_000;
const drainTimeoutMs = 240_000;

const browsers = [
  ["Chrome", "Windows", "desktop"],
  ["Safari", "iOS", "mobile"],
  ["Chrome", "Android", "mobile"],
  ["Firefox", "Linux", "desktop"],
  ["Edge", "Windows", "desktop"],
  ["Safari", "macOS", "desktop"],
  ["Samsung Internet", "Android", "mobile"],
] as const;
const countries = ["US", "DE", "FR", "GB", "IN", "BR", "JP", "CA", null] as const;
const referrers = [null, null, null, "www.google.com", "t.co", "news.ycombinator.com", "mail.google.com"];

/** Link ids by Zipf popularity (s = 1): a cumulative table and a binary search, as the generator draws slugs. */
function zipfPicker(ids: string[]): () => string {
  const cumulative: number[] = [];
  let total = 0;
  for (let rank = 1; rank <= ids.length; rank += 1) {
    total += 1 / rank;
    cumulative.push(total);
  }
  return () => {
    const x = Math.random() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return ids[lo]!;
  };
}

/** `count` click events spread over the last hour, as the recorder would queue them (JSON). */
function clickEvents(count: number, workspaceId: string, pick: () => string): string[] {
  const start = Date.now() - 3_600_000;
  return Array.from({ length: count }, (_, i) => {
    const [browser, os, device] = browsers[i % browsers.length]!;
    const bot = i % 20 === 0;
    return JSON.stringify({
      eventId: randomUUID(),
      linkId: pick(),
      workspaceId,
      occurredAt: start + Math.floor((i * 3_600_000) / count),
      traffic: bot ? "bot" : "human",
      reason: bot ? "known-bot" : "browser",
      country: countries[i % countries.length],
      device,
      browser,
      os,
      referrerHost: referrers[i % referrers.length],
      visitorHash: randomUUID().replaceAll("-", ""),
    });
  });
}

/** Clicks per stream entry: a serving process's hand-off batch under load (~10 ms of its redirects). */
const eventsPerEntry = 40;

/** Fills the stream as the producer does: entries holding an `events` array each. */
async function fillStream(redis: Redis, stream: string, events: string[]): Promise<void> {
  for (let i = 0; i < events.length; i += 100 * eventsPerEntry) {
    const pipeline = redis.pipeline();
    for (let j = i; j < Math.min(events.length, i + 100 * eventsPerEntry); j += eventsPerEntry)
      pipeline.xadd(stream, "*", "events", `[${events.slice(j, j + eventsPerEntry).join(",")}]`);
    await pipeline.exec();
  }
}

async function stored(client: pg.Client, workspaceId: string) {
  const { rows } = await client.query<{ clicks: string; rolled: string }>(
    `select (select count(*) from clicks where workspace_id = $1)::text as clicks,
            (select coalesce(sum(r.clicks), 0) from rollups r join links l on l.id = r.link_id
              where l.workspace_id = $1 and r.granularity = 'day' and r.dimension = 'total')::text as rolled`,
    [workspaceId],
  );
  return { clicks: Number(rows[0]!.clicks), rolled: Number(rows[0]!.rolled) };
}

export const clickIngest: JobScenario = {
  kind: "job",
  name: "click-ingest",
  title: "the click consumer alone: a Redis Stream of clicks stored into Postgres",
  measures:
    "A Redis Stream holding N click events (Zipf over 100k links, a browser/country/referrer mix) drained by " +
    "dist/node/consumer.js (the consumer role a cluster forks), from its start-up line to an empty consumer group: " +
    "clicks/s, and the CPU the consumer process and the Postgres backends spent per click. Baseline: a plain pg " +
    "script storing the same events as raw rows only (no rollups, no stream), in batches of the same size.",
  needsPostgres: true,
  async setup(ctx: Context) {
    const size = ctx.jobSize ?? defaultClicks;
    const postgres = await ctx.postgres();
    const redisService = await ctx.redis();
    const redis = new Redis(redisService.url, { protocol: 2 });
    const client = await harnessClient(ctx);
    const { rows } = await client.query<{ id: string }>(
      "insert into workspaces (name) values ('bench click-ingest') returning id",
    );
    const workspaceId = rows[0]!.id;
    ctx.log(`  seeding ${int(linkCount)} links for the clicks to point at…`);
    await client.query(
      `insert into links (workspace_id, domain, slug, url)
       select $1, 'localhost', 'ci' || n, 'https://example.com/' || n from generate_series(1, $2::int) as n`,
      [workspaceId, linkCount],
    );
    await client.query("analyze links");
    const ids = (
      await client.query<{ id: string }>("select id from links where workspace_id = $1 order by slug", [
        workspaceId,
      ])
    ).rows.map((row) => row.id);
    const pick = zipfPicker(ids);
    const entry = consumerEntry(ctx.bundle);
    const checks: string[] = [];

    const viaConsumer = (batch: number): JobRow => ({
      id: `consumer-b${batch}`,
      label: `edgelink consumer, batch ${batch}`,
      procs: 1,
      unit: "clicks",
      baseline: `pg-raw-b${batch}`,
      config:
        `${entry} on core ${placement.singleServer ?? "any"}, CLICK_BATCH_SIZE=${batch}: XREADGROUP → ` +
        "one statement storing the raw rows and upserting their hour/day rollups → live counters (Lua) → XACK",
      async run(round): Promise<JobResult> {
        const key = `bench:ingest:${randomUUID().slice(0, 8)}`;
        const stream = `el:${key}`;
        const events = clickEvents(size, workspaceId, pick);
        await fillStream(redis, stream, events);
        const before = await stored(client, workspaceId);
        const consumer = await startConsumerProcess({
          bundle: ctx.bundle,
          cores: placement.singleServer,
          settings: {
            DATABASE_URL: postgres.url,
            REDIS_URL: redisService.url,
            CLICK_STREAM_KEY: key,
            CLICK_BATCH_SIZE: String(batch),
          },
        });
        const { startedAt } = consumer;
        const groups = async () => ({ consumer: consumer.pids(), postgres: await postgres.backendPids() });
        const cpuStart = sampleCpu(await groups());
        const watcher = streamWatcher(redisService.url, key, { pollMs: 50, timeoutMs: drainTimeoutMs });
        const { drained } = await watcher.drained();
        watcher.close();
        const durationSec = (performance.now() - startedAt) / 1000;
        const cpuEnd = sampleCpu(await groups());
        const cores = cpuBetween(cpuStart, cpuEnd);
        const windowSec = (cpuEnd.at - cpuStart.at) / 1000;
        await consumer.stop();
        await redis.del(stream);
        const after = await stored(client, workspaceId);
        const added = after.clicks - before.clicks;
        const rolled = after.rolled - before.rolled;
        const ok = drained && added === size && rolled === size;
        checks.push(`${this.id} round ${round}: ${int(added)} rows, rollups +${int(rolled)}`);
        const perClick = (share: number | undefined) => Math.round(((share ?? 0) * windowSec * 1e6) / size);
        const consumerCpu = perClick(cores.consumer);
        const postgresCpu = perClick(cores.postgres);
        return {
          items: added,
          durationSec,
          ok,
          check:
            `${drained ? "drained" : "NOT DRAINED"}; ${int(added)} of ${int(size)} rows stored, rollups ` +
            `+${int(rolled)}; CPU per click: consumer ${consumerCpu} µs, Postgres ${postgresCpu} µs`,
          extra: { consumerCpuUsPerClick: consumerCpu, postgresCpuUsPerClick: postgresCpu },
        };
      },
    });

    const rawRows = (batch: number): JobRow => ({
      id: `pg-raw-b${batch}`,
      label: `bare pg raw rows, batch ${batch}`,
      procs: 1,
      unit: "clicks",
      config:
        `bench/baselines/ingest-pg.mjs on core ${placement.singleServer ?? "any"}: the same events as raw rows ` +
        `(INSERT … SELECT FROM jsonb_to_recordset ON CONFLICT DO NOTHING), ${batch} per statement, no rollups`,
      async run(): Promise<JobResult> {
        const events = clickEvents(size, workspaceId, pick);
        const before = await stored(client, workspaceId);
        const out = await runChild<{ durationMs: number; backendCpuMs: number }>(
          "bench/baselines/ingest-pg.mjs",
          { url: postgres.url, batch, events },
          placement.singleServer,
        );
        const added = (await stored(client, workspaceId)).clicks - before.clicks;
        const durationSec = out.durationMs / 1000;
        const postgresCpu = Math.round((out.backendCpuMs * 1000) / size);
        return {
          items: added,
          durationSec,
          ok: added === size,
          check: `${int(added)} of ${int(size)} rows stored; Postgres CPU per click ${postgresCpu} µs`,
          extra: { postgresCpuUsPerClick: postgresCpu },
        };
      },
    });

    return {
      jobs: [rawRows(100), viaConsumer(100), rawRows(500), viaConsumer(500)],
      notes: async () => [
        `click-ingest: ${int(size)} clicks per run over ${int(linkCount)} links (Zipf s=1), ` +
          "each run's rows and day-total rollups counted after it drained",
        ...checks,
      ],
      async teardown() {
        redis.disconnect();
        await client.end();
      },
    };
  },
};
