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
  /**
   * Compare-then-set: writes `value` at `key` only while `guard.key` holds exactly the string
   * `guard.equals` (`null`: only while `guard.key` does not exist), as one atomic step (a Lua script
   * on Redis). Answers whether it wrote. Guard strings must not parse as JSON (a UUID is fine):
   * the Upstash client would hand them back as numbers or objects.
   */
  setIf<T>(
    key: string,
    value: T,
    guard: { key: string; equals: string | null },
    options?: { ttlSeconds?: number },
  ): Promise<boolean>;
  /** Reads several keys in one round trip (Redis MGET), in order; a missing key reads as null. */
  getMany<T extends readonly unknown[]>(
    ...keys: { [K in keyof T]: string }
  ): Promise<{ -readonly [K in keyof T]: T[K] | null }>;
  /** Writes several keys in one round trip (a pipeline of SET on Redis), all with the same TTL. */
  setMany(
    entries: readonly (readonly [key: string, value: unknown])[],
    options?: { ttlSeconds?: number },
  ): Promise<void>;
  /** Deletes keys and answers how many existed. */
  delete(...keys: string[]): Promise<number>;
  /** Atomically adds `by` and answers the new value; `ttlSeconds` applies when the key is created. */
  increment(key: string, by?: number, options?: { ttlSeconds?: number }): Promise<number>;
  /**
   * Adds `values` to the HyperLogLog at `key` (Redis PFADD); `ttlSeconds` applies when the key is
   * created. Answers whether the estimate changed.
   */
  hyperLogLogAdd(key: string, values: readonly string[], options?: { ttlSeconds?: number }): Promise<boolean>;
  /**
   * Many {@link increment}s and {@link hyperLogLogAdd}s in one round trip (a click batch's live
   * counters): `hyperLogLogTtlSeconds` applies to each HyperLogLog when it is created. Not atomic
   * as a whole; each command is.
   */
  countMany(
    increments: readonly (readonly [key: string, by: number])[],
    hyperLogLogs: readonly (readonly [key: string, values: readonly string[]])[],
    options?: { hyperLogLogTtlSeconds?: number },
  ): Promise<void>;
  /** The estimated number of distinct values across `keys` (Redis PFCOUNT, ~0.81% error; exact in memory). */
  hyperLogLogCount(...keys: string[]): Promise<number>;
  /** A trivial round trip; rejects when the backing store is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Prefix of every key edgelink writes, so a shared Redis stays tidy. */
export const keyPrefix = "el:";
