import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { clickStreamNames } from "../../src/platform/node/redis-stream-click-queue";
import { plainRedis, spawnConsumer, streamState } from "../support/click-stream";
import { freePort, killAllEdgelink, startEdgelink } from "../support/node-process";

/**
 * Where the Node click consumer runs, observed from outside: `node dist/node/server.js` as a
 * cluster, and `node dist/node/consumer.js` as its own role.
 */
const databaseUrl = inject("testDatabaseUrl");
const redisUrl = process.env.REDIS_URL;
const skip = !databaseUrl || !redisUrl ? "needs DATABASE_URL and REDIS_URL" : undefined;
const chrome =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36";

describe.skipIf(skip)(`the click consumer's place on Node${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const key = `test:role:${randomUUID().slice(0, 8)}`;
  const names = clickStreamNames(key);
  const redis = plainRedis(redisUrl ?? "redis://127.0.0.1:1");
  const db = new pg.Client({ connectionString: databaseUrl });
  let slug = "";
  let linkId = "";

  beforeAll(async () => {
    await promisify(execFile)("npm", ["run", "build:node", "--silent"]);
    await db.connect();
    const workspace = await db.query("insert into workspaces (name) values ('role') returning id");
    slug = `n${randomUUID().slice(0, 10)}`;
    const link = await db.query(
      "insert into links (workspace_id, domain, slug, url) values ($1, 'localhost', $2, 'https://example.com/n') returning id",
      [workspace.rows[0].id, slug],
    );
    linkId = link.rows[0].id;
  });
  afterEach(() => killAllEdgelink());
  afterAll(async () => {
    await killAllEdgelink();
    await redis.del(names.stream, names.deadLetter).catch(() => {});
    redis.disconnect();
    await db.end();
  });

  const stored = async () =>
    Number((await db.query("select count(*)::int as n from clicks where link_id = $1", [linkId])).rows[0].n);
  const until = async (check: () => Promise<boolean>, what: string) => {
    const deadline = Date.now() + 15_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const serve = async (extra: Record<string, string>) => {
    const port = await freePort();
    const edgelink = startEdgelink({
      PORT: String(port),
      DATABASE_URL: databaseUrl!,
      REDIS_URL: redisUrl!,
      WEB_CONCURRENCY: "2",
      CLICK_STREAM_KEY: key,
      ...extra,
    });
    await edgelink.waitForLogs((line) => line.msg === "listening", 2, 20_000);
    const click = () =>
      fetch(`http://127.0.0.1:${port}/${slug}`, { redirect: "manual", headers: { "User-Agent": chrome } });
    return { edgelink, click, port };
  };
  /** The nice value of a process, from /proc (field 19 of its stat line). */
  const niceOf = async (pid: number) => {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
  };

  it("runs one consumer per cluster, in a process of its own at a lower CPU priority, replaced when it dies", {
    timeout: 40_000,
  }, async () => {
    const { edgelink, click, port } = await serve({ CLICK_CONSUMER_NICE: "7" });
    const before = await stored();
    const responses = await Promise.all(Array.from({ length: 10 }, click));
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(302));
    await until(async () => (await stored()) === before + 10, "the clicks to be stored");

    const started = edgelink.logs.filter((line) => line.msg === "click stream consumer started");
    expect(started).toHaveLength(1);
    const consumerPid = started[0]!.pid;
    await edgelink.waitForLogs((line) => line.msg === "consuming clicks" && line.pid === consumerPid);
    const listening = edgelink.logs.filter((line) => line.msg === "listening").map((line) => line.pid);
    expect(listening).not.toContain(consumerPid);
    expect(consumerPid).not.toBe(edgelink.pid);
    for (const server of listening) expect((await niceOf(consumerPid)) - (await niceOf(server))).toBe(7);

    // The consumer's counters are part of the cluster's /metrics.
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const ingested = metrics
      .split("\n")
      .filter((line) => line.startsWith("click_queue_ingested_total{"))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
    expect(ingested).toBeGreaterThanOrEqual(10);

    // A dead consumer is replaced by a consumer, not by a web worker, and clicks keep being stored.
    process.kill(consumerPid, "SIGKILL");
    const [death] = await edgelink.waitForLogs(
      (line) => line.msg === "worker died; replacing" && line.pid === consumerPid,
    );
    expect(death).toMatchObject({ role: "consumer", signal: "SIGKILL" });
    // "consuming clicks" is logged once the process has lowered its priority.
    const [replacement] = await edgelink.waitForLogs(
      (line) => line.msg === "consuming clicks" && line.pid !== consumerPid,
    );
    expect(await niceOf(replacement!.pid)).toBe((await niceOf(listening[0]!)) + 7);
    expect((await click()).status).toBe(302);
    await until(async () => (await stored()) === before + 11, "the click after the replacement to be stored");

    edgelink.signal("SIGTERM");
    expect(await edgelink.exited).toMatchObject({ code: 0 });
    expect(
      edgelink.logs.filter((line) => line.msg === "click stream consumer stopped").map((l) => l.pid),
    ).toEqual([replacement!.pid]);
  });

  it("with CLICK_CONSUMER=off leaves the stream to `npm run consumer`, started alone", {
    timeout: 40_000,
  }, async () => {
    const { edgelink, click } = await serve({ CLICK_CONSUMER: "off" });
    const before = await stored();
    expect((await click()).status).toBe(302);
    await until(async () => (await streamState(redis, names)).lag > 0, "the click to wait in the stream");
    expect(await stored()).toBe(before);
    expect(edgelink.logs.some((line) => line.msg === "click stream consumer started")).toBe(false);

    const consumer = spawnConsumer({
      DATABASE_URL: databaseUrl!,
      REDIS_URL: redisUrl!,
      CLICK_STREAM_KEY: key,
    });
    await until(async () => (await stored()) === before + 1, "the consumer role to store the click");
    consumer.child.kill("SIGTERM");
    expect(await consumer.exited).toEqual({ code: 0, signal: null });
  });
});
