import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createClickConsumer } from "../../src/analytics/click-consumer";
import type { ClickEvent } from "../../src/analytics/click-event";
import { type DeadLetterIo, listDeadLetters, replayDeadLetters } from "../../src/entry/admin-dead-letters";
import { createLinkRepository } from "../../src/links/link-repository";
import { MemoryCache } from "../../src/platform/cache/memory-cache";
import type { Database } from "../../src/platform/db/database";
import { createNodePostgresDatabase } from "../../src/platform/db/node-postgres-database";
import { createPgliteDatabase } from "../../src/platform/db/pglite-database";
import { createLogger } from "../../src/platform/log/logger";
import { MetricsRegistry } from "../../src/platform/metrics/metrics-registry";
import { migrationsFolder } from "../../src/platform/node/node-platform";
import { clickStreamNames } from "../../src/platform/node/redis-stream-click-queue";
import { type RedisCall, tcpStreamConnection } from "../../src/platform/node/redis-stream-commands";
import { startRedisStreamConsumer } from "../../src/platform/node/redis-stream-consumer";
import { createWorkspaceRepository } from "../../src/workspaces/workspace-repository";
import { runAdmin } from "../support/admin-cli";
import { clickEvent } from "../support/click-events";
import { plainRedis, streamState } from "../support/click-stream";

const redisUrl = process.env.REDIS_URL;
const skip = redisUrl ? undefined : "needs REDIS_URL";
type Names = ReturnType<typeof clickStreamNames>;

const admin = runAdmin;

/** Captures what a command writes. */
function capture(): DeadLetterIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (line) => stdout.push(line), err: (line) => stderr.push(line) };
}

const until = async (check: () => Promise<boolean>, what: string, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe("npm run admin -- dead-letters: usage and the embedded default", () => {
  it("answers bad usage with one line and exit status 2, before looking for Redis", async () => {
    const cases = [
      ["dead-letters"],
      ["dead-letters", "purge"],
      ["dead-letters", "list", "--limit", "0"],
      ["dead-letters", "list", "--limit", "many"],
      ["dead-letters", "list", "--reason", "Bad Reason!"],
      ["dead-letters", "list", "--dry-run"],
      ["dead-letters", "replay", "--ids", "abc"],
      ["dead-letters", "replay", "--ids", ""],
      ["dead-letters", "replay", "--limit", "5"],
      ["dead-letters", "replay", "--everything"],
    ];
    const runs = await Promise.all(cases.map((args) => admin(args, { REDIS_URL: "redis://127.0.0.1:1" })));
    runs.forEach((run, i) => {
      expect(run.code, cases[i]!.join(" ")).toBe(2);
      expect(run.stdout).toBe("");
      expect(run.stderr).toMatch(/^edgelink admin: .+ \(see npm run admin -- --help\)\n$/);
    });
    const help = await admin(["--help"], {});
    expect(help.stdout).toContain("dead-letters list [--reason REASON] [--limit N] [--json]");
    expect(help.stdout).toContain("dead-letters replay [--reason REASON] [--ids ID,…] [--dry-run] [--json]");
  }, 60_000);

  it("without Redis says the in-process queue has no dead-letter stream, and exits 2", async () => {
    for (const command of ["list", "replay"]) {
      const run = await admin(["dead-letters", command], {});
      expect(run.code).toBe(2);
      expect(run.stdout).toBe("");
      expect(run.stderr.trim().split("\n")).toHaveLength(1);
      expect(run.stderr).toContain("needs Redis");
      expect(run.stderr).toContain("in-process click queue has no dead-letter stream");
    }
  }, 60_000);
});

describe.skipIf(skip)(`npm run admin -- dead-letters on Redis${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const redis = plainRedis(redisUrl ?? "redis://127.0.0.1:1");
  const connection = tcpStreamConnection(redisUrl ?? "redis://127.0.0.1:1");
  const keys: string[] = [];
  const fresh = () => {
    const key = `test:dead-letters:${randomUUID().slice(0, 8)}`;
    const names = clickStreamNames(key);
    keys.push(names.stream, names.deadLetter);
    return { key, names, target: { call: connection.call, names } };
  };
  afterAll(async () => {
    if (keys.length > 0) await redis.del(...keys).catch(() => {});
    redis.disconnect();
    await connection.close();
  });

  /** Parks an entry the way the consumer does (redis-stream-batch.ts), for reasons hard to provoke. */
  const park = (names: Names, reason: string, payload: string, id = "1-0") =>
    redis.call(
      "XADD",
      names.deadLetter,
      "*",
      ...["id", id, "reason", reason, "deliveries", "6", "consumer", "old-consumer", "payload", payload],
    ) as Promise<string>;

  /**
   * Parks four entries through the real consumer: two valid events its database refuses, a payload
   * that is not JSON and one that is no click event. Answers the valid events.
   */
  async function parkThroughConsumer(names: Names): Promise<ClickEvent[]> {
    const refused = [clickEvent(), clickEvent({ traffic: "bot" })];
    const payloads = [
      JSON.stringify(refused[0]),
      "{not json",
      JSON.stringify({ eventId: "e1" }),
      JSON.stringify(refused[1]),
    ];
    for (const payload of payloads) await redis.call("XADD", names.stream, "*", "event", payload);
    const running = startRedisStreamConsumer({
      connection: tcpStreamConnection(redisUrl!),
      names,
      consumerName: `t-${randomUUID().slice(0, 8)}`,
      consumer: {
        async consume(events) {
          return {
            inserted: [],
            duplicates: 0,
            rejected: events.map((event) => ({ event, error: "23503" })),
          };
        },
      },
      batchSize: 10,
      claimIdleMs: 100,
      maxAttempts: 3,
      metrics: new MetricsRegistry(),
      logger: createLogger({ level: "silent" }),
      waitMs: 100,
    });
    await until(
      async () => (await streamState(redis, names)).deadLetters.length === 4,
      "four parked entries",
    );
    await running.stop();
    return refused;
  }

  const deadIds = async (names: Names) =>
    ((await redis.call("XRANGE", names.deadLetter, "-", "+")) as [string, string[]][]).map(([id]) => id);
  /** The `event` fields added to the click stream after `after`. */
  const requeued = async (names: Names, after: string) =>
    ((await redis.call("XRANGE", names.stream, `(${after}`, "+")) as [string, string[]][]).map(
      ([, fields]) => fields[1],
    );
  const lastStreamId = async (names: Names) =>
    ((await redis.call("XREVRANGE", names.stream, "+", "-", "COUNT", 1)) as [string][])[0]?.[0] ?? "0-0";

  it("lists the parked entries oldest first, with reason, deliveries, consumer, payload summary and counts", async () => {
    const { names, target } = fresh();
    const [first, second] = await parkThroughConsumer(names);
    const io = capture();
    const summary = await listDeadLetters(target, { json: false }, io);
    expect(summary).toMatchObject({
      failed: false,
      total: 4,
      shown: 4,
      byReason: { "rejected-by-database": 2, "invalid-json": 1, "invalid-event": 1 },
    });
    expect(io.stdout).toHaveLength(4);
    const ids = await deadIds(names);
    for (const [i, line] of io.stdout.entries()) expect(line.startsWith(`${ids[i]}  `)).toBe(true);
    expect(io.stdout.join("\n")).toContain(`event ${first!.eventId} link ${first!.linkId} human`);
    expect(io.stdout.join("\n")).toContain(`event ${second!.eventId} link ${second!.linkId} bot`);
    expect(io.stdout.find((line) => line.includes("invalid-json"))).toContain(
      'payload not JSON: "{not json"',
    );
    expect(io.stdout.find((line) => line.includes("invalid-event"))).toContain("(not a valid click event)");
    expect(io.stderr).toEqual([
      `4 parked in ${names.deadLetter} (rejected-by-database 2, invalid-event 1, invalid-json 1); 4 shown.`,
    ]);
    for (const line of io.stdout) expect(line.length).toBeLessThan(400);

    const json = capture();
    await listDeadLetters(target, { json: true, reason: "rejected-by-database", limit: 1 }, json);
    expect(json.stdout).toHaveLength(1);
    const row = JSON.parse(json.stdout[0]!);
    // The oldest refused event: the first one the consumer read.
    const parkedFirst = ids[io.stdout.findIndex((line) => line.includes(first!.eventId))]!;
    expect(row).toMatchObject({
      id: parkedFirst,
      reason: "rejected-by-database",
      deliveries: 1,
      consumer: expect.stringMatching(/^t-/),
      originalId: expect.stringMatching(/^\d+-\d+$/),
      payload: { eventId: first!.eventId, linkId: first!.linkId, traffic: "human", valid: true },
    });
    expect(new Date(row.parkedAt).getTime()).toBe(Number(parkedFirst.split("-")[0]));
    expect(JSON.parse(json.stderr[0]!)).toMatchObject({ total: 4, shown: 1 });
  });

  it("keeps every listed line bounded however long the parked fields are", async () => {
    const { names, target } = fresh();
    await park(names, "x".repeat(5_000), `{"eventId":"${"y".repeat(10_000)}"}`, "z".repeat(5_000));
    await park(names, "invalid-json", "\u001b[2J".repeat(3_000));
    const io = capture();
    await listDeadLetters(target, { json: false }, io);
    for (const line of [...io.stdout, ...io.stderr]) expect(line.length).toBeLessThan(400);
    expect(io.stdout.join("")).not.toContain("\u001b");
  });

  it("replays the valid events onto the stream, removes them from the dead letters, leaves invalid ones", async () => {
    const { names, target } = fresh();
    const refused = await parkThroughConsumer(names);
    const before = await lastStreamId(names);
    const io = capture();
    const summary = await replayDeadLetters(target, { dryRun: false, maxLen: 1_000, json: false }, io);
    expect(summary).toMatchObject({
      failed: true, // two entries were selected and not replayed
      examined: 4,
      replayed: 2,
      skipped: { "invalid-json": 1, "invalid-event": 1 },
      left: 2,
    });
    const events = (await requeued(names, before)).map((json) => JSON.parse(json!));
    expect(events).toEqual(refused);
    const remaining = (await streamState(redis, names)).deadLetters;
    expect(remaining.map((entry) => entry.reason).sort()).toEqual(["invalid-event", "invalid-json"]);
    expect(io.stdout.filter((line) => line.endsWith(" replayed"))).toHaveLength(2);
    expect(io.stdout.filter((line) => line.includes(" skipped (invalid-"))).toHaveLength(2);
    expect(io.stderr.at(-1)).toMatch(
      /^Replayed 2 of 4 .*skipped 2 \(invalid-event 1, invalid-json 1\); 2 left in/,
    );

    // Nothing valid is left: a second run replays nothing and still reports what stays parked.
    const again = await replayDeadLetters(target, { dryRun: false, maxLen: 1_000, json: true }, capture());
    expect(again).toMatchObject({ replayed: 0, left: 2 });
  });

  it("changes nothing with --dry-run", async () => {
    const { names, target } = fresh();
    await parkThroughConsumer(names);
    const state = await streamState(redis, names);
    const io = capture();
    const summary = await replayDeadLetters(target, { dryRun: true, maxLen: 1_000, json: true }, io);
    expect(summary).toMatchObject({ dryRun: true, replayed: 2, left: 4 });
    expect(await streamState(redis, names)).toEqual(state);
    expect(io.stdout.map((line) => JSON.parse(line).status).sort()).toEqual([
      "skipped",
      "skipped",
      "would-replay",
      "would-replay",
    ]);
    expect(JSON.parse(io.stderr.at(-1)!)).toMatchObject({ dryRun: true, replayed: 2, left: 4 });
  });

  it("replays only the entries --reason and --ids select; unknown ids are reported", async () => {
    const { names, target } = fresh();
    const [stuck, refused, other] = [clickEvent(), clickEvent(), clickEvent()];
    const stuckId = await park(names, "too-many-deliveries", JSON.stringify(stuck));
    const refusedId = await park(names, "rejected-by-database", JSON.stringify(refused));
    const otherId = await park(names, "rejected-by-database", JSON.stringify(other));

    const byReason = await replayDeadLetters(
      target,
      { reason: "too-many-deliveries", dryRun: false, maxLen: 1_000, json: false },
      capture(),
    );
    expect(byReason).toMatchObject({ failed: false, examined: 1, replayed: 1, left: 2 });
    expect((await requeued(names, "0-0")).map((json) => JSON.parse(json!).eventId)).toEqual([stuck.eventId]);
    expect(await deadIds(names)).toEqual([refusedId, otherId]);

    const io = capture();
    const byIds = await replayDeadLetters(
      target,
      { ids: [otherId, stuckId], dryRun: false, maxLen: 1_000, json: true },
      io,
    );
    // stuckId was replayed already: not found now, so the run reports a failure.
    expect(byIds).toMatchObject({ failed: true, replayed: 1, notFound: 1, left: 1 });
    expect(io.stdout.map((line) => JSON.parse(line))).toEqual([
      { id: stuckId, status: "not-found" },
      { id: otherId, status: "replayed" },
    ]);
    expect((await requeued(names, "0-0")).map((json) => JSON.parse(json!).eventId)).toEqual([
      stuck.eventId,
      other.eventId,
    ]);
    expect(await deadIds(names)).toEqual([refusedId]);
  });

  it("leaves what a running consumer parks again during the replay for the next run, instead of looping", async () => {
    const { names, target } = fresh();
    const event = clickEvent();
    await park(names, "rejected-by-database", JSON.stringify(event));
    // The database still refuses the event: the consumer parks it again as soon as it is back.
    const reparking: RedisCall = async (command) => {
      const reply = await connection.call(command);
      if (command[0] === "XADD" && command[1] === names.stream)
        await park(names, "rejected-by-database", String(command.at(-1)));
      return reply;
    };
    const summary = await replayDeadLetters(
      { ...target, call: reparking },
      { dryRun: false, maxLen: 1_000, json: false },
      capture(),
    );
    expect(summary).toMatchObject({ failed: false, examined: 1, replayed: 1, left: 1 });
    expect(await requeued(names, "0-0")).toEqual([JSON.stringify(event)]);
  });

  it("reports progress every 1,000 entries with a rate, and respects the stream's MAXLEN", async () => {
    const { names, target } = fresh();
    const pipeline = redis.pipeline();
    for (let i = 0; i < 2_500; i += 1) {
      const fields = [
        "id",
        `${i + 1}-0`,
        "reason",
        "too-many-deliveries",
        "deliveries",
        "6",
        "consumer",
        "c",
      ];
      pipeline.xadd(names.deadLetter, "*", ...fields, "payload", JSON.stringify(clickEvent()));
    }
    await pipeline.exec();
    const io = capture();
    const summary = await replayDeadLetters(target, { dryRun: false, maxLen: 1_000, json: false }, io);
    expect(summary).toMatchObject({ failed: false, replayed: 2_500, left: 0 });
    const progress = io.stderr.slice(0, -1);
    expect(progress).toHaveLength(2);
    expect(progress[0]).toMatch(/^dead-letters replay: 1,000 scanned, 1,000 replayed \([\d,]+ entries\/s\)$/);
    expect(progress[1]).toMatch(/^dead-letters replay: 2,000 scanned, 2,000 replayed/);
    // MAXLEN ~ 1000: trimmed to about the cap (whole nodes at a time), far below what was added.
    expect(Number(await redis.call("XLEN", names.stream))).toBeLessThan(2_000);
  });

  it("a replay interrupted between XADD and XDEL adds the event twice, and the consumer stores it once", async () => {
    const databaseUrl = inject("testDatabaseUrl");
    const db: Database = databaseUrl
      ? createNodePostgresDatabase({ url: databaseUrl, poolMax: 2, statementTimeoutMs: 5_000 })
      : await createPgliteDatabase({ dataDir: "memory://", migrationsFolder });
    try {
      const workspaceId = (await createWorkspaceRepository(db).create({ name: "dead letters" })).id;
      const link = await createLinkRepository(db).create({
        workspaceId,
        domain: "ex.test",
        slug: `d${randomUUID().slice(0, 10)}`,
        url: "https://example.com",
      });
      const event = clickEvent({ workspaceId, linkId: link!.id });
      const { names, target } = fresh();
      await park(names, "too-many-deliveries", JSON.stringify(event));

      // The process dies after the XADD, before its XDEL.
      const crashing: RedisCall = async (command) => {
        if (command[0] === "XDEL") throw new Error("connection lost");
        return connection.call(command);
      };
      const interrupted = await replayDeadLetters(
        { ...target, call: crashing },
        { dryRun: false, maxLen: 1_000, json: false },
        capture(),
      );
      expect(interrupted).toMatchObject({ failed: true, error: "connection lost", left: 1 });
      const rerun = await replayDeadLetters(target, { dryRun: false, maxLen: 1_000, json: false }, capture());
      expect(rerun).toMatchObject({ failed: false, replayed: 1, left: 0 });
      expect(await requeued(names, "0-0")).toEqual([JSON.stringify(event), JSON.stringify(event)]);

      const running = startRedisStreamConsumer({
        connection: tcpStreamConnection(redisUrl!),
        names,
        consumerName: `t-${randomUUID().slice(0, 8)}`,
        consumer: createClickConsumer({
          db,
          cache: new MemoryCache(),
          metrics: new MetricsRegistry(),
          logger: createLogger({ level: "silent" }),
          queue: "redis-stream",
        }),
        batchSize: 1, // one delivery per batch: the second is a redelivery, not a repeat within one
        claimIdleMs: 100,
        maxAttempts: 3,
        metrics: new MetricsRegistry(),
        logger: createLogger({ level: "silent" }),
        waitMs: 100,
      });
      await until(async () => {
        const state = await streamState(redis, names);
        return state.lag === 0 && state.pending === 0;
      }, "the stream to drain");
      await running.stop();
      const stored = (await db.primary.execute(
        sql`select count(*)::int as n from clicks where event_id = ${event.eventId}`,
      )) as unknown as { rows?: { n: number }[] } | { n: number }[];
      const rows = Array.isArray(stored) ? stored : (stored.rows ?? []);
      expect(Number(rows[0]?.n)).toBe(1);
      expect((await streamState(redis, names)).deadLetters).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it("runs as npm run admin: list and replay against CLICK_STREAM_KEY", async () => {
    const { key, names } = fresh();
    const event = clickEvent();
    const parkedId = await park(names, "too-many-deliveries", JSON.stringify(event));
    await park(names, "invalid-json", "{");
    const settings = { REDIS_URL: redisUrl!, CLICK_STREAM_KEY: key };

    const list = await admin(["dead-letters", "list", "--json"], settings);
    expect(list.code, list.stderr).toBe(0);
    expect(
      list.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line).reason),
    ).toEqual(["too-many-deliveries", "invalid-json"]);
    expect(JSON.parse(list.stderr)).toMatchObject({
      total: 2,
      byReason: { "too-many-deliveries": 1, "invalid-json": 1 },
    });

    const replay = await admin(["dead-letters", "replay", "--reason", "too-many-deliveries"], settings);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toBe(`${parkedId} replayed\n`);
    expect(replay.stderr).toMatch(/^Replayed 1 of 1 .*; 1 left in el:test:dead-letters:/);
    expect(await requeued(names, "0-0")).toEqual([JSON.stringify(event)]);

    const rest = await admin(["dead-letters", "replay"], settings);
    expect(rest.code).toBe(1); // the invalid payload was selected and stays parked
    expect(rest.stdout).toMatch(/ skipped \(invalid-json: left in place\)\n$/);
  }, 60_000);
});
