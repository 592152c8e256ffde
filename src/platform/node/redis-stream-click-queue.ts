import type { Redis } from "@upstash/redis";
import type { Redis as IORedis } from "ioredis";
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

/** Per entry, in order: undefined when it was added, else the error. */
type AppendOutcome = (unknown | undefined)[];

/** XADDs through `@upstash/redis` (REST, or the TCP requester): one pipeline request for all entries. */
function upstashAppend(redis: Redis, stream: string, maxLen: number) {
  const trim = { type: "MAXLEN", comparison: "~", threshold: maxLen } as const;
  return async (jsons: string[]): Promise<AppendOutcome> => {
    const pipeline = redis.pipeline();
    for (const json of jsons) pipeline.xadd(stream, "*", { event: json }, { trim });
    const results = await pipeline.exec({ keepErrors: true });
    return results.map((result) => (result.error === undefined ? undefined : new Error(result.error)));
  };
}

/**
 * XADDs straight over an ioredis connection: the same commands, without building the REST-shaped
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
  return async (jsons: string[]): Promise<AppendOutcome> => {
    if (client.status !== "ready") return fallback(jsons);
    const pipeline = client.pipeline();
    for (const json of jsons) pipeline.xadd(stream, "MAXLEN", "~", cap, "*", "event", json);
    const results = (await pipeline.exec()) ?? [];
    return jsons.map((_, i) => {
      const [error] = results[i] ?? [new Error("pipeline returned too few replies")];
      return error ?? undefined;
    });
  };
}

/**
 * The Redis Streams producer: one stream entry per event (one `event` field holding its JSON), the
 * events of one `send` XADDed in one pipeline — one round trip for a batch — and the stream capped
 * near `maxLen` entries (MAXLEN ~). The cap bounds Redis memory when no consumer runs; entries
 * trimmed before anyone read them are lost, so size it well above the backlog a consumer outage
 * can build.
 *
 * Works over Upstash REST and the TCP requester alike; given `tcp`, the TCP connection behind the
 * requester, it XADDs over that directly. The XADDs that failed are retried twice (the others are
 * not sent again); a retry after a lost reply may add an event twice, which the consumer's
 * idempotent ingest absorbs.
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

  /** The entries that were not added, with the first error. */
  async function addAll(jsons: string[]): Promise<{ failed: string[]; error?: unknown }> {
    let outcome: AppendOutcome;
    try {
      outcome = await append(jsons);
    } catch (error) {
      return { failed: jsons, error };
    }
    const failed = jsons.filter((_, i) => outcome[i] !== undefined);
    return { failed, error: outcome.find((error) => error !== undefined) };
  }

  return {
    kind: "redis-stream",
    async send(events) {
      let remaining = events.map((event) => JSON.stringify(event));
      for (let attempt = 1; remaining.length > 0; attempt += 1) {
        const { failed, error } = await addAll(remaining);
        if (failed.length > 0 && attempt >= sendAttempts) throw error;
        if (failed.length > 0) await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
        remaining = failed;
      }
    },
    async close() {},
  };
}
