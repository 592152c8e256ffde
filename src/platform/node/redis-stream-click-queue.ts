import type { Redis } from "@upstash/redis";
import type { ClickQueue } from "../../analytics/click-queue";
import { keyPrefix } from "../cache/cache";

/** Where one click stream lives in Redis; every name is under the cache's `el:` prefix. */
export interface ClickStreamNames {
  /** The stream the redirect path XADDs to. */
  stream: string;
  /** Parked poison entries: `{ id, reason, deliveries, consumer, payload }` per entry. */
  deadLetter: string;
  /** The consumer group every consumer of the stream joins. */
  group: string;
}

/**
 * @example
 * clickStreamNames("clicks:stream"); // { stream: "el:clicks:stream", deadLetter: "el:clicks:stream:dead", group: "ingest" }
 */
export function clickStreamNames(key: string): ClickStreamNames {
  return { stream: keyPrefix + key, deadLetter: `${keyPrefix + key}:dead`, group: "ingest" };
}

const sendAttempts = 3;

/**
 * The Redis Streams producer: one XADD per event (auto-pipelined by the client), each entry one
 * `event` field holding the event's JSON, the stream capped near `maxLen` entries (MAXLEN ~). The
 * cap bounds Redis memory when no consumer runs; entries trimmed before anyone read them are lost,
 * so size it well above the backlog a consumer outage can build.
 *
 * Works over the TCP requester and Upstash REST alike. A failed XADD is retried twice; a retry
 * after a lost reply may add the event twice, which the consumer's idempotent ingest absorbs.
 *
 * @example
 * const queue = createRedisStreamClickQueue(redis, { key: "clicks:stream", maxLen: 1_000_000 });
 */
export function createRedisStreamClickQueue(
  redis: Redis,
  options: { key: string; maxLen: number },
): ClickQueue {
  const { stream } = clickStreamNames(options.key);
  const trim = { type: "MAXLEN", comparison: "~", threshold: options.maxLen } as const;
  const add = (json: string) => redis.xadd(stream, "*", { event: json }, { trim });
  return {
    kind: "redis-stream",
    async send(events) {
      let remaining = events.map((event) => JSON.stringify(event));
      for (let attempt = 1; remaining.length > 0; attempt += 1) {
        const results = await Promise.allSettled(remaining.map(add));
        const failed = remaining.filter((_, i) => results[i]!.status === "rejected");
        if (failed.length > 0 && attempt >= sendAttempts) {
          throw (results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason;
        }
        if (failed.length > 0) await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
        remaining = failed;
      }
    },
    async close() {},
  };
}
