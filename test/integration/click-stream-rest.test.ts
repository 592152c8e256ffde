import { randomBytes, randomUUID } from "node:crypto";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstashRestServer, type UpstashRestServer } from "../../dev/upstash-rest-server";
import type { ClickConsumer } from "../../src/analytics/click-consumer";
import type { ClickEvent } from "../../src/analytics/click-event";
import { createLogger } from "../../src/platform/log/logger";
import { MetricsRegistry } from "../../src/platform/metrics/metrics-registry";
import {
  clickStreamNames,
  createRedisStreamClickQueue,
} from "../../src/platform/node/redis-stream-click-queue";
import { restStreamConnection } from "../../src/platform/node/redis-stream-commands";
import { startRedisStreamConsumer } from "../../src/platform/node/redis-stream-consumer";
import { plainRedis, streamState } from "../support/click-stream";

const redisUrl = process.env.REDIS_URL;
const skip = redisUrl ? undefined : "needs REDIS_URL";

describe.skipIf(skip)(`Redis Streams over Upstash REST${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const key = `test:rest:${randomUUID().slice(0, 8)}`;
  const names = clickStreamNames(key);
  const token = randomBytes(16).toString("hex");
  const redis = plainRedis(redisUrl ?? "redis://127.0.0.1:1");
  let server: UpstashRestServer;
  beforeAll(async () => {
    server = await startUpstashRestServer({ redisUrl: redisUrl!, token, port: 0 });
  });
  afterAll(async () => {
    await redis.del(names.stream, names.deadLetter).catch(() => {});
    redis.disconnect();
    await server?.close();
  });

  it("produces with XADD through the Upstash client and consumes by polling XREADGROUP (no BLOCK over HTTP)", async () => {
    const queue = createRedisStreamClickQueue(new Redis({ url: server.url, token, enableTelemetry: false }), {
      key,
      maxLen: 10_000,
    });
    const events: ClickEvent[] = Array.from({ length: 30 }, () => ({
      eventId: randomUUID(),
      linkId: randomUUID(),
      workspaceId: randomUUID(),
      occurredAt: Date.now(),
      traffic: "human",
      reason: "browser",
      country: "SE",
      device: "mobile",
      browser: "Samsung Internet",
      os: "Android",
      referrerHost: "t.co",
      visitorHash: "0123456789abcdef",
    }));
    await queue.send(events.slice(0, 10));
    await Promise.all(events.slice(10).map((event) => queue.send([event])));

    const received: ClickEvent[] = [];
    const statements: number[] = [];
    const consumer: ClickConsumer = {
      async consume(batch) {
        received.push(...batch);
        statements.push(batch.length);
        return { inserted: [], duplicates: 0, rejected: [] };
      },
    };
    const running = startRedisStreamConsumer({
      connection: restStreamConnection(server.url, token),
      names,
      consumerName: "rest-1",
      consumer,
      batchSize: 8,
      claimIdleMs: 30_000,
      maxAttempts: 5,
      metrics: new MetricsRegistry(),
      logger: createLogger({ level: "silent" }),
      waitMs: 50,
    });
    const deadline = Date.now() + 10_000;
    while (received.length < events.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 25));
    await running.stop();

    expect(received.map((e) => e.eventId).sort()).toEqual(events.map((e) => e.eventId).sort());
    expect(received.find((e) => e.eventId === events[0]!.eventId)).toEqual(events[0]);
    const state = await streamState(redis, names);
    // One entry per send; the 10-event entry is stored in statements of at most `batchSize` events.
    expect([state.length, state.pending, state.lag]).toEqual([21, 0, 0]);
    expect(Math.max(...statements)).toBeLessThanOrEqual(8);
  });
});
