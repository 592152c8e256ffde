import type { Redis } from "@upstash/redis";
import { type Cache, type CacheKind, keyPrefix } from "./cache";

/**
 * The cache port over an `@upstash/redis` client — Upstash's REST API at the edge, or a standard
 * Redis over TCP on Node through a custom requester. The client (de)serialises JSON itself.
 */
export class UpstashCache implements Cache {
  constructor(
    private readonly redis: Redis,
    readonly kind: Exclude<CacheKind, "memory">,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

  async get<T>(key: string): Promise<T | null> {
    return this.redis.get<T>(keyPrefix + key);
  }

  async set<T>(key: string, value: T, options: { ttlSeconds?: number } = {}): Promise<void> {
    if (options.ttlSeconds) await this.redis.set(keyPrefix + key, value, { ex: options.ttlSeconds });
    else await this.redis.set(keyPrefix + key, value);
  }

  async add<T>(key: string, value: T, options: { ttlSeconds?: number } = {}): Promise<boolean> {
    const answer = options.ttlSeconds
      ? await this.redis.set(keyPrefix + key, value, { nx: true, ex: options.ttlSeconds })
      : await this.redis.set(keyPrefix + key, value, { nx: true });
    return answer === "OK";
  }

  async delete(...keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    return this.redis.del(...keys.map((key) => keyPrefix + key));
  }

  async increment(key: string, by = 1, options: { ttlSeconds?: number } = {}): Promise<number> {
    const full = keyPrefix + key;
    if (!options.ttlSeconds) return this.redis.incrby(full, by);
    // One round trip; NX keeps the first TTL so a busy counter still expires on schedule.
    const [value] = await this.redis.multi().incrby(full, by).expire(full, options.ttlSeconds, "NX").exec();
    return value as number;
  }

  async hyperLogLogAdd(
    key: string,
    values: readonly string[],
    options: { ttlSeconds?: number } = {},
  ): Promise<boolean> {
    const full = keyPrefix + key;
    if (!options.ttlSeconds) return (await this.redis.pfadd(full, ...values)) === 1;
    // NX: the TTL counts from the key's creation, so a day's uniques expire on schedule.
    const [changed] = await this.redis
      .multi()
      .pfadd(full, ...values)
      .expire(full, options.ttlSeconds, "NX")
      .exec();
    return changed === 1;
  }

  async hyperLogLogCount(...keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const [first, ...rest] = keys.map((key) => keyPrefix + key) as [string, ...string[]];
    return this.redis.pfcount(first, ...rest);
  }

  async ping(): Promise<void> {
    const answer = await this.redis.ping();
    if (answer !== "PONG") throw new Error(`unexpected PING answer: ${String(answer)}`);
  }

  async close(): Promise<void> {
    await this.onClose();
  }
}
