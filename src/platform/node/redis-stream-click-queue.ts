import type { Redis } from "@upstash/redis";
import type { Redis as IORedis } from "ioredis";
import type { ClickQueue } from "../../analytics/click-queue";
import { keyPrefix } from "../cache/cache";

/** The field of a producer's entry: a JSON array of click events. */
export const eventsField = "events";
/** The field of an entry holding one event's JSON: older producers' entries and replayed dead letters. */
export const eventField = "event";

/** Where one click stream lives in Redis; every name is under the cache's `el:` prefix. */
export interface ClickStreamNames {
  /** The stream the redirect path XADDs to. */
  stream: string;
  /**
   * Parked poison, one entry per event: `{ id, reason, deliveries, consumer, payload }` — `id` the
   * click stream entry it came in, `payload` that event's JSON (or an unreadable entry's raw field).
   */
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

/** XADDs one entry through `@upstash/redis` (REST, or the TCP requester). */
function upstashAppend(redis: Redis, stream: string, maxLen: number) {
  const trim = { type: "MAXLEN", comparison: "~", threshold: maxLen } as const;
  return async (json: string): Promise<void> => {
    await redis.xadd(stream, "*", { [eventsField]: json }, { trim });
  };
}

/**
 * XADDs straight over an ioredis connection: the same command, without building the REST-shaped
 * request and reply the `@upstash/redis` client goes through, which cost about as much again as the
 * rest of recording a click. While that connection is not ready, `fallback` is used, which waits
 * for it (or fails) the way every other command of the process does.
 */
function ioredisAppend(
  client: IORedis,
  stream: string,
  maxLen: number,
  fallback: ReturnType<typeof upstashAppend>,
) {
  const cap = String(maxLen);
  return async (json: string): Promise<void> => {
    if (client.status !== "ready") return fallback(json);
    await client.xadd(stream, "MAXLEN", "~", cap, "*", eventsField, json);
  };
}

/**
 * The Redis Streams producer: the events of one `send` — one process's hand-off batch — go in ONE
 * stream entry (an `events` field holding their JSON array), and the stream is capped near `maxLen`
 * entries (MAXLEN ~). An entry per event cost the serving process ~15 µs and Redis ~2–3 µs more
 * per click at 50 clicks a batch (an ioredis command object, a reply and a stream node each); the
 * consumer splits the entries again, parks poison per event and reads older one-event entries
 * (`event`) as well.
 *
 * The cap bounds Redis memory when no consumer runs; it counts entries, so with hand-off batches of
 * up to 256 clicks (tens under load, one when traffic is light) it holds that many more clicks.
 * Entries trimmed before anyone read them are lost, so size it well above the backlog a consumer
 * outage can build.
 *
 * Works over Upstash REST and the TCP requester alike; given `tcp`, the TCP connection behind the
 * requester, it XADDs over that directly. A failed XADD is retried twice; a retry after a lost
 * reply may add the events twice, which the consumer's idempotent ingest absorbs.
 *
 * @example
 * const queue = createRedisStreamClickQueue(redis, { key: "clicks:stream", maxLen: 1_000_000 });
 */
export function createRedisStreamClickQueue(
  redis: Redis,
  options: { key: string; maxLen: number; tcp?: IORedis },
): ClickQueue {
  const { stream } = clickStreamNames(options.key);
  const viaUpstash = upstashAppend(redis, stream, options.maxLen);
  const append = options.tcp ? ioredisAppend(options.tcp, stream, options.maxLen, viaUpstash) : viaUpstash;

  return {
    kind: "redis-stream",
    async send(events) {
      if (events.length === 0) return;
      const json = JSON.stringify(events);
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await append(json);
        } catch (error) {
          if (attempt >= sendAttempts) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
        }
      }
    },
    async close() {},
  };
}
