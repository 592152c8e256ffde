import { type Cache, keyPrefix } from "./cache";

interface Entry {
  value: unknown;
  expiresAt: number;
}

/**
 * The in-process implementation: the embedded default and the unit-test double. Bounded, so a
 * flood of distinct keys cannot grow the heap without limit (least recently written goes first).
 * Values are stored as structured clones so callers cannot mutate what is cached.
 */
export class MemoryCache implements Cache {
  readonly kind = "memory" as const;
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: { maxEntries?: number; now?: () => number } = {}) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(keyPrefix + key);
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(keyPrefix + key);
      return undefined;
    }
    return entry;
  }

  private write(key: string, value: unknown, expiresAt: number): void {
    const full = keyPrefix + key;
    this.entries.delete(full);
    this.entries.set(full, { value, expiresAt });
    const max = this.options.maxEntries ?? 100_000;
    if (this.entries.size > max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  async get<T>(key: string): Promise<T | null> {
    const entry = this.live(key);
    return entry ? (structuredClone(entry.value) as T) : null;
  }

  async set<T>(key: string, value: T, options: { ttlSeconds?: number } = {}): Promise<void> {
    const expiresAt = options.ttlSeconds ? this.now() + options.ttlSeconds * 1000 : Number.POSITIVE_INFINITY;
    this.write(key, structuredClone(value), expiresAt);
  }

  async add<T>(key: string, value: T, options: { ttlSeconds?: number } = {}): Promise<boolean> {
    if (this.live(key)) return false;
    await this.set(key, value, options);
    return true;
  }

  async setIf<T>(
    key: string,
    value: T,
    guard: { key: string; equals: string | null },
    options: { ttlSeconds?: number } = {},
  ): Promise<boolean> {
    const current = this.live(guard.key)?.value ?? null;
    if (current !== guard.equals) return false;
    await this.set(key, value, options);
    return true;
  }

  async getMany<T extends readonly unknown[]>(
    ...keys: { [K in keyof T]: string }
  ): Promise<{ -readonly [K in keyof T]: T[K] | null }> {
    return Promise.all(keys.map((key) => this.get(key))) as Promise<{
      -readonly [K in keyof T]: T[K] | null;
    }>;
  }

  async setMany(
    entries: readonly (readonly [key: string, value: unknown])[],
    options: { ttlSeconds?: number } = {},
  ): Promise<void> {
    for (const [key, value] of entries) await this.set(key, value, options);
  }

  async delete(...keys: string[]): Promise<number> {
    let removed = 0;
    for (const key of keys) {
      if (this.live(key)) removed += 1;
      this.entries.delete(keyPrefix + key);
    }
    return removed;
  }

  async increment(key: string, by = 1, options: { ttlSeconds?: number } = {}): Promise<number> {
    const entry = this.live(key);
    if (entry && typeof entry.value !== "number") throw new TypeError(`${key} does not hold a number`);
    const value = ((entry?.value as number | undefined) ?? 0) + by;
    const expiresAt =
      entry?.expiresAt ??
      (options.ttlSeconds ? this.now() + options.ttlSeconds * 1000 : Number.POSITIVE_INFINITY);
    this.write(key, value, expiresAt);
    return value;
  }

  async countMany(
    increments: readonly (readonly [key: string, by: number])[],
    hyperLogLogs: readonly (readonly [key: string, values: readonly string[]])[],
    options: { hyperLogLogTtlSeconds?: number } = {},
  ): Promise<void> {
    for (const [key, by] of increments) await this.increment(key, by);
    for (const [key, values] of hyperLogLogs) {
      await this.hyperLogLogAdd(key, values, { ttlSeconds: options.hyperLogLogTtlSeconds });
    }
  }

  /** An exact Set stands in for the HyperLogLog: same answers, minus the estimation error. */
  async hyperLogLogAdd(
    key: string,
    values: readonly string[],
    options: { ttlSeconds?: number } = {},
  ): Promise<boolean> {
    const entry = this.live(key);
    if (entry && !(entry.value instanceof Set)) throw new TypeError(`${key} does not hold a HyperLogLog`);
    const set = (entry?.value as Set<string> | undefined) ?? new Set<string>();
    const before = set.size;
    for (const value of values) set.add(value);
    if (!entry) {
      const expiresAt = options.ttlSeconds
        ? this.now() + options.ttlSeconds * 1000
        : Number.POSITIVE_INFINITY;
      this.write(key, set, expiresAt);
    }
    return set.size !== before || !entry;
  }

  async hyperLogLogCount(...keys: string[]): Promise<number> {
    const union = new Set<string>();
    for (const key of keys) {
      const value = this.live(key)?.value;
      if (value instanceof Set) for (const item of value) union.add(item as string);
    }
    return union.size;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.entries.clear();
  }
}
