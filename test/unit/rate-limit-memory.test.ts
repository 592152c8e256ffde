import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { createLogger } from "../../src/platform/log/logger";
import { MetricsRegistry } from "../../src/platform/metrics/metrics-registry";
import { createRateLimiter } from "../../src/ratelimit/create-rate-limiter";
import { MemoryRateLimiter } from "../../src/ratelimit/memory-rate-limiter";
import { policiesFromConfig } from "../../src/ratelimit/rate-limit-policies";
import { BoundedMap, retryAt, take, type WindowCounts } from "../../src/ratelimit/sliding-window";

const minute = 60_000;
/** A window start far from the epoch, like real timestamps. */
const t0 = 29_000_000 * minute;

function limiterAt(clock: { now: number }, env: Record<string, string> = {}, maxEntries?: number) {
  const policies = policiesFromConfig(loadConfig({ RATE_LIMIT_REDIRECT: "10/60s", ...env }));
  return new MemoryRateLimiter(policies, { now: () => clock.now, maxEntries });
}

async function admitted(limiter: MemoryRateLimiter, id: string, tries: number): Promise<number> {
  let count = 0;
  for (let i = 0; i < tries; i++) if ((await limiter.limit("redirect", id)).allowed) count++;
  return count;
}

describe("MemoryRateLimiter: upstash's sliding window, in process", () => {
  it("admits `limit` requests in a window, then refuses without counting the refusals", async () => {
    const clock = { now: t0 + 1_000 };
    const limiter = limiterAt(clock);
    const decisions = [];
    for (let i = 0; i < 12; i++) decisions.push(await limiter.limit("redirect", "203.0.113.7"));
    expect(decisions.map((d) => d.remaining)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0]);
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    expect(decisions[0]).toMatchObject({ limit: 10, source: "memory", resetAt: t0 + minute });
    // Another client has its own quota.
    expect((await limiter.limit("redirect", "203.0.113.8")).remaining).toBe(9);
  });

  it("weights the previous window by its overlap with the sliding window", async () => {
    const clock = { now: t0 + 59_000 };
    const limiter = limiterAt(clock);
    expect(await admitted(limiter, "c", 10)).toBe(10);
    // A quarter into the next window, 75% of the previous 10 still count: floor(7.5) = 7 → 3 more.
    clock.now = t0 + minute + 15_000;
    expect(await admitted(limiter, "c", 5)).toBe(3);
    // Half-way: floor(5) + 3 = 8 → 2 more.
    clock.now = t0 + minute + 30_000;
    expect(await admitted(limiter, "c", 5)).toBe(2);
    // Two windows on, nothing of the first remains; the second's 5 weigh floor(5 * 0.9) = 4.
    clock.now = t0 + 2 * minute + 6_000;
    expect(await admitted(limiter, "c", 10)).toBe(6);
    // A window with no traffic in between forgets everything.
    clock.now = t0 + 4 * minute + 1;
    expect(await admitted(limiter, "c", 12)).toBe(10);
  });

  it("tells a refused client exactly when a retry succeeds (the Retry-After of a 429)", async () => {
    const clock = { now: t0 + 50_000 };
    const limiter = limiterAt(clock);
    await admitted(limiter, "r", 10);
    const refused = await limiter.limit("redirect", "r");
    expect(refused.allowed).toBe(false);
    clock.now = refused.resetAt - 1;
    expect((await limiter.limit("redirect", "r")).allowed).toBe(false);
    clock.now = refused.resetAt;
    expect((await limiter.limit("redirect", "r")).allowed).toBe(true);
  });

  it("computes retryAt as the first millisecond at which take() admits, for any counts", () => {
    const windowMs = 10_000;
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 1000; i++) {
      const limit = 1 + random(20);
      const counts: WindowCounts = { window: 100, current: random(limit + 5), previous: random(3 * limit) };
      const now = 100 * windowMs + random(windowMs);
      const probe = (at: number) => take(structuredClone(counts), limit, at, windowMs).allowed;
      if (probe(now)) continue;
      const at = retryAt(counts, limit, windowMs);
      expect(probe(at), JSON.stringify({ counts, limit, at })).toBe(true);
      expect(probe(at - 1), JSON.stringify({ counts, limit, at })).toBe(false);
    }
  });

  it("keeps memory bounded: past maxEntries the least recently active client is forgotten", async () => {
    const clock = { now: t0 };
    const limiter = limiterAt(clock, {}, 3);
    await admitted(limiter, "a", 10);
    expect((await limiter.limit("redirect", "a")).allowed).toBe(false);
    for (const id of ["b", "c", "d"]) await limiter.limit("redirect", id);
    // "a" was evicted: it starts over (the price of a bound; never more than one window's quota).
    expect((await limiter.limit("redirect", "a")).remaining).toBe(9);
  });

  it("keeps policies apart and reads each from config", async () => {
    const clock = { now: t0 };
    const limiter = limiterAt(clock, { RATE_LIMIT_PASSWORD: "2/15m" });
    const first = await limiter.limit("password", "ip|link");
    expect(first.policy).toEqual({ name: "password", limit: 2, windowMs: 900_000, failMode: "closed" });
    expect((await limiter.limit("redirect", "ip|link")).remaining).toBe(9);
  });
});

describe("createRateLimiter", () => {
  it("builds the in-process limiter on the embedded default (no Redis)", () => {
    const limiter = createRateLimiter({
      config: loadConfig({}),
      redis: undefined,
      metrics: new MetricsRegistry(),
      logger: createLogger({ level: "silent" }),
    });
    expect(limiter).toBeInstanceOf(MemoryRateLimiter);
  });
});

describe("BoundedMap", () => {
  it("evicts the oldest insertion and reports it; refresh moves a key to the young end", () => {
    const evicted: string[] = [];
    const map = new BoundedMap<string, number>(2, (key) => evicted.push(key));
    map.set("a", 1).set("b", 2);
    map.refresh("a", 1);
    map.set("c", 3);
    expect([...map.keys()]).toEqual(["a", "c"]);
    expect(evicted).toEqual(["b"]);
    expect(map).toBeInstanceOf(Map);
  });
});
