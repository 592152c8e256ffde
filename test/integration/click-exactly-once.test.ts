import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { sql } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createClickConsumer } from "../../src/analytics/click-consumer";
import { liveClicksKey } from "../../src/analytics/live-counters";
import { createApp } from "../../src/app";
import { loadConfig } from "../../src/config";
import { createLogger } from "../../src/platform/log/logger";
import { createNodePlatform } from "../../src/platform/node/node-platform";
import { clickStreamNames } from "../../src/platform/node/redis-stream-click-queue";
import { tcpStreamConnection } from "../../src/platform/node/redis-stream-commands";
import { startRedisStreamConsumer } from "../../src/platform/node/redis-stream-consumer";
import { createServices, type Services } from "../../src/services";
import { roomyLimits } from "../support/api";
import { plainRedis, spawnConsumer, streamState } from "../support/click-stream";

const databaseUrl = inject("testDatabaseUrl");
const redisUrl = process.env.REDIS_URL;
const skip = !databaseUrl || !redisUrl ? "needs DATABASE_URL and REDIS_URL" : undefined;

const chrome =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36";
/** Every 12 requests: 8 humans, a Googlebot, a Slack unfurl, a HEAD and a prefetch. */
const mix = [..."hhhhhhhh", "bot", "preview", "head", "prefetch"] as const;
const requests = 2_400;

const rows = (result: unknown) => {
  const answer = result as { rows?: Record<string, unknown>[] } | Record<string, unknown>[];
  return Array.isArray(answer) ? answer : (answer.rows ?? []);
};
const until = async (check: () => Promise<boolean>, what: string, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe.skipIf(skip)(
  `exactly-once click counts through Redis Streams${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    const key = `test:clicks:${randomUUID().slice(0, 8)}`;
    const names = clickStreamNames(key);
    const settings = {
      DATABASE_URL: databaseUrl!,
      REDIS_URL: redisUrl!,
      CLICK_STREAM_KEY: key,
      CLICK_BATCH_SIZE: "100",
      CLICK_CLAIM_IDLE_MS: "1000",
      DATABASE_STATEMENT_TIMEOUT_MS: "60000",
    };
    const redis = plainRedis(redisUrl ?? "redis://127.0.0.1:1");
    let services: Services;
    let app: ReturnType<typeof createApp>;
    let workspaceId: string;

    beforeAll(async () => {
      await promisify(execFile)("npm", ["run", "build:node", "--silent"]);
      const config = loadConfig({ ...settings, ...roomyLimits, CLIENT_IP_HEADER: "x-forwarded-for" });
      const logger = createLogger({ level: "warn" });
      services = createServices(await createNodePlatform(config, logger));
      app = createApp(services);
      workspaceId = (await services.workspaces.create({ name: "exactly once" })).id;
    });
    afterAll(async () => {
      await redis.del(names.stream, names.deadLetter).catch(() => {});
      redis.disconnect();
      await Promise.allSettled([services?.db.close(), services?.cache.close()]);
    });

    const countStored = async () => {
      const found = rows(
        await services.db.primary.execute(
          sql`select traffic, reason, count(*)::int as n from clicks where workspace_id = ${workspaceId} group by 1, 2`,
        ),
      );
      return Object.fromEntries(found.map((r) => [`${r.traffic}/${r.reason}`, Number(r.n)]));
    };

    it("stores every human click once although consumers die mid-batch, before and after the commit", async () => {
      // 1. Serve the mix through the real app; the recorder XADDs each stored class to the stream.
      const links = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const result = await services.linkService.create(workspaceId, { url: `https://example.com/${i}` });
          if (!result.ok) throw new Error("link not created");
          return result.value;
        }),
      );
      const served = { human: 0, bot: 0, preview: 0, head: 0, prefetch: 0 };
      for (let start = 0; start < requests; start += 100) {
        await Promise.all(
          Array.from({ length: 100 }, async (_, j) => {
            const i = start + j;
            const kind = mix[i % mix.length]!;
            const traffic = kind === "h" ? "human" : kind;
            const headers: Record<string, string> = { "X-Forwarded-For": `10.0.${i % 50}.${i % 7}` };
            headers["User-Agent"] =
              traffic === "bot"
                ? "Googlebot/2.1 (+http://www.google.com/bot.html)"
                : traffic === "preview"
                  ? "Slackbot-LinkExpanding 1.0"
                  : chrome;
            if (traffic === "prefetch") headers["Sec-Purpose"] = "prefetch";
            const response = await app.request(`/${links[i % links.length]!.slug}`, {
              method: traffic === "head" ? "HEAD" : "GET",
              headers,
            });
            if (response.status === 302) served[traffic as keyof typeof served] += 1;
          }),
        );
      }
      await services.clickRecorder.drain?.();
      const queued = served.human + served.bot + served.preview;
      // One entry per hand-off batch of the recorder, each an `events` array.
      const entries = (await redis.call("XRANGE", names.stream, "-", "+")) as [string, string[]][];
      const eventsPerEntry = entries.map(([, fields]) => (JSON.parse(fields[1]!) as unknown[]).length);
      expect(entries.length).toBeGreaterThan(2);
      expect(eventsPerEntry.reduce((s, n) => s + n, 0)).toBe(queued);
      // Poison among them: not JSON, JSON but no click event, an entry without the field at all.
      await redis.call("XADD", names.stream, "*", "event", "{not json");
      await redis.call("XADD", names.stream, "*", "event", JSON.stringify({ eventId: "nope" }));
      await redis.call("XADD", names.stream, "*", "other", "x");

      // 2. Consumer A (the `npm run consumer` bundle) reads a batch and is SIGKILLed with it in flight:
      //    a lock on the rollups holds its insert, so the kill lands after the read and before the ack.
      const lock = new pg.Client({ connectionString: databaseUrl });
      await lock.connect();
      await lock.query("begin; lock table rollups in share mode");
      const a = spawnConsumer(settings);
      await until(async () => {
        // Not on the locking connection: inside its transaction pg_stat_activity is a frozen snapshot.
        const [waiting] = rows(
          await services.db.primary.execute(
            sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
          ),
        );
        return Number(waiting!.n) > 0;
      }, "consumer A to block on the rollups lock");
      // A new consumer reads one entry first (it does not know yet how many events entries carry).
      expect((await streamState(redis, names)).pending).toBe(1);
      a.child.kill("SIGKILL");
      expect((await a.exited).signal).toBe("SIGKILL");
      await lock.query("rollback");
      await lock.end();

      // 3. Consumer B commits its second batch and dies before acknowledging it (it never returns).
      let batches = 0;
      let committedByB = 0;
      let committedInLastBatch = 0;
      const real = createClickConsumer({ ...services, queue: "redis-stream" });
      let frozen = () => {};
      const froze = new Promise<void>((resolve) => {
        frozen = resolve;
      });
      const connectionB = tcpStreamConnection(redisUrl!);
      startRedisStreamConsumer({
        connection: connectionB,
        names,
        consumerName: `b-${randomUUID().slice(0, 8)}`,
        consumer: {
          async consume(events) {
            const outcome = await real.consume(events);
            batches += 1;
            committedByB += outcome.inserted.length;
            committedInLastBatch = outcome.inserted.length;
            if (batches === 2) {
              frozen();
              await new Promise(() => {});
            }
            return outcome;
          },
        },
        batchSize: 100,
        claimIdleMs: 3_600_000,
        maxAttempts: 5,
        metrics: services.metrics,
        logger: createLogger({ level: "silent" }),
      });
      await froze;
      await connectionB.close();
      const leftByAandB = (await streamState(redis, names)).pending;
      expect(leftByAandB).toBeGreaterThan(1);

      // 4. Consumer C, a new one, claims what A and B left pending once idle, drains the rest, parks
      //    the poison, and stops gracefully on SIGTERM.
      const c = spawnConsumer(settings);
      await until(async () => {
        const state = await streamState(redis, names);
        return state.pending === 0 && state.lag === 0 && state.deadLetters.length === 3;
      }, "consumer C to drain the stream");
      c.child.kill("SIGTERM");
      expect(await c.exited).toEqual({ code: 0, signal: null });
      const stopped = c.logs.find((line) => line.msg === "stopped") as {
        metrics: Record<string, { values: Record<string, number> }>;
      };
      const metric = (name: string) =>
        Object.values(stopped.metrics[name]?.values ?? {}).reduce((s, v) => s + v, 0);

      // 5. The counts: each served human click stored exactly once; bots and previews apart.
      const stored = await countStored();
      const state = await streamState(redis, names);
      const humans = Object.entries(stored)
        .filter(([k]) => k.startsWith("human/"))
        .reduce((s, [, n]) => s + n, 0);
      const live = (
        await Promise.all(links.map((l) => services.cache.get<number>(liveClicksKey(l.id))))
      ).reduce<number>((s, n) => s + (n ?? 0), 0);
      const figures = {
        requests,
        served,
        streamEntries: eventsPerEntry.length,
        stored,
        redelivered: metric("click_queue_claimed_total"),
        redeliveredAsDuplicates: metric("click_queue_duplicates_total"),
        deadLettered: state.deadLetters.map((d) => d.reason),
        liveCounterHumans: live,
      };
      console.log(`[exactly-once] ${JSON.stringify(figures)}`);
      expect(humans).toBe(served.human);
      expect(stored).toEqual({
        "human/browser": served.human,
        "bot/google": served.bot,
        "preview/slack": served.preview,
      });
      expect(served.head + served.prefetch).toBe(400);
      // A's entry (its commit undone or not) and B's (committed, never acknowledged) came back
      // through XAUTOCLAIM; what B had stored was recognised, not stored again.
      expect(figures.redelivered).toBe(leftByAandB);
      // B's first statement may have finished its entry (acknowledged, never redelivered) or been
      // the first part of a larger one; either way the statement it froze after was never
      // acknowledged, so at least its events come back to C as duplicates.
      expect(committedByB).toBeGreaterThan(0);
      expect(committedInLastBatch).toBeGreaterThan(0);
      expect(figures.redeliveredAsDuplicates).toBeGreaterThanOrEqual(committedInLastBatch);
      expect(state.deadLetters.map((d) => d.reason).sort()).toEqual([
        "invalid-event",
        "invalid-json",
        "invalid-json",
      ]);
      const [rollup] = rows(
        await services.db.primary.execute(sql`select sum(r.clicks)::int as n from rollups r join links l on l.id = r.link_id
        where l.workspace_id = ${workspaceId} and r.traffic = 'human' and r.granularity = 'day' and r.dimension = 'total'`),
      );
      expect(rollup!.n).toBe(served.human);
      // Live counters are updated after the commit: short if a consumer died in between, never over.
      expect(live).toBeLessThanOrEqual(served.human);
      expect(live).toBeGreaterThanOrEqual(served.human - Math.max(...eventsPerEntry));
    }, 120_000);
  },
);
