import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../src/config";
import { type RunningConsumerRole, startConsumerRole } from "../../src/entry/consumer-role";
import { createLogger } from "../../src/platform/log/logger";
import { clickStreamNames } from "../../src/platform/node/redis-stream-click-queue";
import { clickEvent } from "../support/click-events";
import { plainRedis } from "../support/click-stream";

const databaseUrl = inject("testDatabaseUrl");
const redisUrl = process.env.REDIS_URL;
const skip = !databaseUrl || !redisUrl ? "needs DATABASE_URL and REDIS_URL" : undefined;

describe.skipIf(skip)(`the consumer role's /metrics and /healthz${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const key = `test:consumer-metrics:${randomUUID().slice(0, 8)}`;
  const names = clickStreamNames(key);
  const token = randomBytes(16).toString("hex");
  const redis = plainRedis(redisUrl ?? "redis://127.0.0.1:1");
  const db = new pg.Client({ connectionString: databaseUrl });
  const logger = createLogger({ level: "silent" });
  const settings = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    CLICK_STREAM_KEY: key,
    HOST: "127.0.0.1",
    METRICS_TOKEN: token,
  };
  let role: RunningConsumerRole | undefined;
  let linkId = "";
  let workspaceId = "";

  beforeAll(async () => {
    await db.connect();
    workspaceId = (await db.query("insert into workspaces (name) values ('consumer-metrics') returning id"))
      .rows[0].id;
    linkId = (
      await db.query(
        "insert into links (workspace_id, domain, slug, url) values ($1, 'localhost', $2, 'https://example.com/m') returning id",
        [workspaceId, `cm${randomUUID().slice(0, 10)}`],
      )
    ).rows[0].id;
  });
  afterAll(async () => {
    await role?.stop();
    await redis.del(names.stream, names.deadLetter).catch(() => {});
    redis.disconnect();
    await db.end();
  });

  it("serves its registry behind METRICS_TOKEN, and /healthz, while it consumes", async () => {
    role = await startConsumerRole(loadConfig({ ...settings, CONSUMER_METRICS_PORT: "0" }), logger);
    const base = `http://127.0.0.1:${role.metricsPort}`;
    expect(role.metricsPort).toBeGreaterThan(0);

    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });

    const events = [clickEvent({ linkId, workspaceId }), clickEvent({ linkId, workspaceId })];
    for (const event of events) await redis.xadd(names.stream, "*", "event", JSON.stringify(event));
    const stored = async () =>
      Number(
        (await db.query("select count(*)::int as n from clicks where link_id = $1", [linkId])).rows[0].n,
      );
    await expect.poll(stored, { timeout: 15_000 }).toBe(2);

    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect(
      (await fetch(`${base}/metrics`, { headers: { Authorization: "Bearer wrong-token-wrong-token" } }))
        .status,
    ).toBe(401);
    const scrape = await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${token}` } });
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await scrape.text();
    expect(text).toMatch(/^click_queue_ingested_total\{queue="redis-stream"\} 2$/m);
    expect(text).toMatch(/^# TYPE click_queue_ingested_total counter$/m);

    await role.stop();
    role = undefined;
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it("opens no listener without CONSUMER_METRICS_PORT", async () => {
    role = await startConsumerRole(loadConfig(settings), logger);
    expect(role.metricsPort).toBeUndefined();
    await role.stop();
    role = undefined;
  });

  it("refuses to start when its port is taken", async () => {
    role = await startConsumerRole(loadConfig({ ...settings, CONSUMER_METRICS_PORT: "0" }), logger);
    const taken = String(role.metricsPort);
    await expect(
      startConsumerRole(loadConfig({ ...settings, CONSUMER_METRICS_PORT: taken }), logger),
    ).rejects.toThrow(/EADDRINUSE/);
    await role.stop();
    role = undefined;
  });
});
