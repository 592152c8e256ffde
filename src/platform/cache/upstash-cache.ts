import type { Redis } from "@upstash/redis";
import { type Cache, type CacheKind, keyPrefix } from "./cache";

/** KEYS: the key to write, the guard. ARGV: value, "1" when the guard must be absent, its expected value, TTL (0: none). */
const setIfScript = `
local current = redis.call('GET', KEYS[2])
if ARGV[2] == '1' then
  if current then return 0 end
elseif current ~= ARGV[3] then
  return 0
end
if ARGV[4] == '0' then redis.call('SET', KEYS[1], ARGV[1]) else redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4]) end
return 1
`;

/** Sets KEYS[i] to ARGV[i], each with the TTL in the last argument (seconds; 0 = none). */
const setManyScript = `
local ttl = ARGV[#ARGV]
for i, key in ipairs(KEYS) do
  if ttl == '0' then redis.call('SET', key, ARGV[i]) else redis.call('SET', key, ARGV[i], 'EX', ttl) end
end
return #KEYS
`;

/**
 * KEYS: the counters, then the HyperLogLogs. ARGV: the number of counters, the HyperLogLog TTL
 * (0 = none), each counter's increment, then per HyperLogLog its number of values and the values.
 */
const countManyScript = `
local counters = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local at = 3
for i = 1, counters do
  redis.call('INCRBY', KEYS[i], ARGV[at])
  at = at + 1
end
for i = counters + 1, #KEYS do
  local n = tonumber(ARGV[at])
  redis.call('PFADD', KEYS[i], unpack(ARGV, at + 1, at + n))
  if ttl > 0 then redis.call('EXPIRE', KEYS[i], ttl, 'NX') end
  at = at + n + 1
end
return #KEYS
`;

/**
 * The cache port over an `@upstash/redis` client — Upstash's REST API at the edge, or a standard
 * Redis over TCP on Node through a custom requester. The client (de)serialises JSON itself.
 */
export class UpstashCache implements Cache {
  private setIfScript: ReturnType<Redis["createScript"]> | undefined;
  private setManyScript: ReturnType<Redis["createScript"]> | undefined;
  private countManyScript: ReturnType<Redis["createScript"]> | undefined;

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

  async setIf<T>(
    key: string,
    value: T,
    guard: { key: string; equals: string | null },
    options: { ttlSeconds?: number } = {},
  ): Promise<boolean> {
    this.setIfScript ??= this.redis.createScript(setIfScript);
    // Serialised as `set` serialises, so a value written here reads back like any other.
    const serialised = typeof value === "string" ? value : JSON.stringify(value);
    const args = [
      serialised,
      guard.equals === null ? "1" : "0",
      guard.equals ?? "",
      String(options.ttlSeconds ?? 0),
    ];
    // EVALSHA first, EVAL once after a NOSCRIPT (a restarted Redis): the script is not resent each time.
    const wrote = await this.setIfScript.exec([keyPrefix + key, keyPrefix + guard.key], args);
    return wrote === 1;
  }

  async getMany<T extends readonly unknown[]>(
    ...keys: { [K in keyof T]: string }
  ): Promise<{ -readonly [K in keyof T]: T[K] | null }> {
    if (keys.length === 0) return [] as unknown as { -readonly [K in keyof T]: T[K] | null };
    return this.redis.mget(...keys.map((key) => keyPrefix + key));
  }

  async setMany(
    entries: readonly (readonly [key: string, value: unknown])[],
    options: { ttlSeconds?: number } = {},
  ): Promise<void> {
    if (entries.length === 0) return;
    // One command for the lot (a bulk import invalidates 500 links at once): a pipeline of SETs
    // costs the client a reply to decode per key, which was most of a bulk import's CPU.
    this.setManyScript ??= this.redis.createScript(setManyScript);
    const keys = entries.map(([key]) => keyPrefix + key);
    const args = entries.map(([, value]) => (typeof value === "string" ? value : JSON.stringify(value)));
    args.push(String(options.ttlSeconds ?? 0));
    await this.setManyScript.exec(keys, args);
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

  async countMany(
    increments: readonly (readonly [key: string, by: number])[],
    hyperLogLogs: readonly (readonly [key: string, values: readonly string[]])[],
    options: { hyperLogLogTtlSeconds?: number } = {},
  ): Promise<void> {
    // Without values a HyperLogLog has nothing to add (and PFADD would create an empty one).
    const logs = hyperLogLogs.filter(([, values]) => values.length > 0);
    if (increments.length === 0 && logs.length === 0) return;
    this.countManyScript ??= this.redis.createScript(countManyScript);
    const keys = [...increments.map(([key]) => keyPrefix + key), ...logs.map(([key]) => keyPrefix + key)];
    const args = [String(increments.length), String(options.hyperLogLogTtlSeconds ?? 0)];
    for (const [, by] of increments) args.push(String(by));
    for (const [, values] of logs) args.push(String(values.length), ...values);
    await this.countManyScript.exec(keys, args);
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
