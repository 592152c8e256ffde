export type CacheKind = "memory" | "upstash-rest" | "redis-tcp";

/**
 * The cache and counter port (Redis semantics). Values are JSON; TTLs are in seconds and
 * optional. Every implementation namespaces its keys, so one Redis can serve several apps.
 */
export interface Cache {
  readonly kind: CacheKind;
  get<T>(key: string): Promise<T | null>;
  set<T>(key: string, value: T, options?: { ttlSeconds?: number }): Promise<void>;
  /** Sets `key` only if it does not exist (Redis SET NX); answers whether this call set it. */
  add<T>(key: string, value: T, options?: { ttlSeconds?: number }): Promise<boolean>;
  /** Deletes keys and answers how many existed. */
  delete(...keys: string[]): Promise<number>;
  /** Atomically adds `by` and answers the new value; `ttlSeconds` applies when the key is created. */
  increment(key: string, by?: number, options?: { ttlSeconds?: number }): Promise<number>;
  /**
   * Adds `values` to the HyperLogLog at `key` (Redis PFADD); `ttlSeconds` applies when the key is
   * created. Answers whether the estimate changed.
   */
  hyperLogLogAdd(key: string, values: readonly string[], options?: { ttlSeconds?: number }): Promise<boolean>;
  /** The estimated number of distinct values across `keys` (Redis PFCOUNT, ~0.81% error; exact in memory). */
  hyperLogLogCount(...keys: string[]): Promise<number>;
  /** A trivial round trip; rejects when the backing store is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Prefix of every key edgelink writes, so a shared Redis stays tidy. */
export const keyPrefix = "el:";
