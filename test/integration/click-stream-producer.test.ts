import { randomUUID } from "node:crypto";
import { Redis } from "@upstash/redis";
import { Redis as IORedis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import type { ClickEvent } from "../../src/analytics/click-event";
import {
  clickStreamNames,
  createRedisStreamClickQueue,
} from "../../src/platform/node/redis-stream-click-queue";
import { createTcpRequester } from "../../src/platform/node/redis-tcp-requester";
import { clickEvent } from "../support/click-events";
import { plainRedis } from "../support/click-stream";

const redisUrl = process.env.REDIS_URL;
const skip = redisUrl ? undefined : "needs REDIS_URL";

/** The entries of a stream, in order, each as the events it carries (the `events` field's JSON array). */
async function entriesIn(redis: IORedis, stream: string): Promise<ClickEvent[][]> {
  const entries = (await redis.call("XRANGE", stream, "-", "+")) as [string, string[]][];
  return entries.map(([, fields]) => {
    expect(fields).toHaveLength(2);
    expect(fields[0]).toBe("events");
    return JSON.parse(fields[1]!) as ClickEvent[];
  });
}

describe.skipIf(skip)(`Redis Streams producer${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const plain = plainRedis(redisUrl ?? "redis://127.0.0.1:1");
  const requester = createTcpRequester(redisUrl ?? "redis://127.0.0.1:1");
  const upstash = new Redis(requester);
  const keys: string[] = [];
  const fresh = () => {
    const key = `test:producer:${randomUUID().slice(0, 8)}`;
    keys.push(clickStreamNames(key).stream);
    return { key, stream: clickStreamNames(key).stream };
  };
  afterAll(async () => {
    if (keys.length > 0) await plain.del(...keys).catch(() => {});
    plain.disconnect();
    await requester.close();
  });

  for (const via of ["the TCP connection", "the Upstash client"] as const) {
    it(`adds the events of a send once, in order, as one entry per send (${via})`, async () => {
      const { key, stream } = fresh();
      const queue = createRedisStreamClickQueue(upstash, {
        key,
        maxLen: 10_000,
        tcp: via === "the TCP connection" ? requester.client : undefined,
      });
      const events = Array.from({ length: 40 }, () => clickEvent());
      await queue.send(events.slice(0, 25));
      await queue.send(events.slice(25));
      await queue.send([]);
      expect(await entriesIn(plain, stream)).toEqual([events.slice(0, 25), events.slice(25)]);
    });

    it(`rejects with Redis's error after its retries when the XADDs keep failing (${via})`, async () => {
      const { key, stream } = fresh();
      // Not a stream: every XADD answers WRONGTYPE.
      await plain.set(stream, "not a stream");
      const queue = createRedisStreamClickQueue(upstash, {
        key,
        maxLen: 10_000,
        tcp: via === "the TCP connection" ? requester.client : undefined,
      });
      await expect(queue.send([clickEvent(), clickEvent()])).rejects.toThrow(/WRONGTYPE/);
    });
  }

  it("goes through the Upstash client while the TCP connection is not ready", async () => {
    const { key, stream } = fresh();
    const notConnected = new IORedis(redisUrl!, { lazyConnect: true, protocol: 2 });
    const queue = createRedisStreamClickQueue(upstash, { key, maxLen: 10_000, tcp: notConnected });
    const events = [clickEvent(), clickEvent()];
    await queue.send(events);
    expect(notConnected.status).toBe("wait");
    expect(await entriesIn(plain, stream)).toEqual([events]);
    notConnected.disconnect();
  });
});
