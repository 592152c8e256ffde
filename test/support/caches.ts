import { randomBytes } from "node:crypto";
import { Redis } from "@upstash/redis";
import { startUpstashRestServer } from "../../dev/upstash-rest-server";
import type { Cache } from "../../src/platform/cache/cache";
import { MemoryCache } from "../../src/platform/cache/memory-cache";
import { UpstashCache } from "../../src/platform/cache/upstash-cache";
import { createTcpRequester } from "../../src/platform/node/redis-tcp-requester";

export interface CacheUnderTest {
  name: Cache["kind"];
  skip: string | undefined;
  open(): Promise<Cache & { teardown?: () => Promise<void> }>;
}

/** The three implementations of the cache port: in-process always, the Redis ones with REDIS_URL. */
export function cachesUnderTest(): CacheUnderTest[] {
  const redisUrl = process.env.REDIS_URL;
  const needsRedis = redisUrl ? undefined : "REDIS_URL unset";
  return [
    { name: "memory", skip: undefined, open: async () => new MemoryCache() },
    {
      name: "redis-tcp",
      skip: needsRedis,
      open: async () => {
        const requester = createTcpRequester(redisUrl!);
        return new UpstashCache(new Redis(requester), "redis-tcp", () => requester.close());
      },
    },
    {
      name: "upstash-rest",
      skip: needsRedis,
      open: async () => {
        const token = randomBytes(16).toString("hex");
        const server = await startUpstashRestServer({ redisUrl: redisUrl!, token, port: 0 });
        const cache = new UpstashCache(
          new Redis({ url: server.url, token, enableTelemetry: false }),
          "upstash-rest",
        );
        return Object.assign(cache, { teardown: () => server.close() });
      },
    },
  ];
}
