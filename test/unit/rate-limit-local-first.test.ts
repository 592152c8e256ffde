import type { Requester } from "@upstash/redis";
import { Redis } from "@upstash/redis";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/platform/log/logger";
import { MetricsRegistry } from "../../src/platform/metrics/metrics-registry";
import { FailureReporter } from "../../src/ratelimit/failure-reporter";
import { LocalFirstRateLimiter } from "../../src/ratelimit/local-first-rate-limiter";
import type { RateLimiter, RateLimitPolicy } from "../../src/ratelimit/rate-limiter";
import { take, windowIndex } from "../../src/ratelimit/sliding-window";
import { UpstashRateLimiter } from "../../src/ratelimit/upstash-rate-limiter";
import { createUpstashWindowSync } from "../../src/ratelimit/upstash-window-sync";
import type { WindowSync } from "../../src/ratelimit/window-sync";

const minute = 60_000;
const t0 = 29_000_000 * minute;
const policy = (limit: number): RateLimitPolicy => ({
  name: "redirect",
  limit,
  windowMs: minute,
  failMode: "open",
});

function reporter(clock: { now: number }) {
  const metrics = new MetricsRegistry();
  const logs: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => logs.push(line) });
  return { metrics, logs, failures: new FailureReporter({ metrics, logger, now: () => clock.now }) };
}

/**
 * Redis as the local-first limiter sees it: the shared per-window counters, pushed to by `sync`
 * and checked exactly (upstash's script semantics) by `authority`. Counts every call.
 */
function sharedRedis(clock: { now: number }, rate: RateLimitPolicy) {
  const counts = new Map<string, number>();
  const get = (id: string, window: number) => counts.get(`${id}:${window}`) ?? 0;
  const calls = { push: 0, consult: 0 };
  const sync: WindowSync = {
    async push(increments) {
      calls.push++;
      return increments.map(({ identifier, window, count }) => {
        counts.set(`${identifier}:${window}`, get(identifier, window) + count);
        return { current: get(identifier, window), previous: get(identifier, window - 1) };
      });
    },
  };
  const authority: RateLimiter = {
    async limit(_name, identifier) {
      calls.consult++;
      const window = windowIndex(clock.now, rate.windowMs);
      const state = { window, current: get(identifier, window), previous: get(identifier, window - 1) };
      const result = take(state, rate.limit, clock.now, rate.windowMs);
      counts.set(`${identifier}:${window}`, state.current);
      return { ...result, limit: rate.limit, policy: rate, source: "redis" };
    },
    flush: async () => {},
  };
  return { sync, authority, calls, total: (id: string) => get(id, windowIndex(clock.now, rate.windowMs)) };
}

describe("LocalFirstRateLimiter (redirects)", () => {
  it("decides a client far from its limit with zero Redis calls on the request path", async () => {
    const clock = { now: t0 };
    const rate = policy(600);
    const redis = sharedRedis(clock, rate);
    // A sync that never answers: if any decision waited on Redis, this test would hang.
    const stuck: WindowSync = {
      push: () => {
        redis.calls.push++;
        return new Promise(() => {});
      },
    };
    const limiter = new LocalFirstRateLimiter({
      policy: rate,
      authority: redis.authority,
      sync: stuck,
      failures: reporter(clock).failures,
      now: () => clock.now,
    });
    for (let i = 0; i < 479; i++) {
      clock.now += 10;
      const decision = await limiter.limit("redirect", "203.0.113.7");
      expect(decision).toMatchObject({ allowed: true, source: "local", remaining: 600 - i - 1 });
    }
    expect(redis.calls.consult).toBe(0);
    // Reconciling happened in the background: one push started after the first interval, none since
    // (it is still "in flight"), and no request waited for it.
    expect(redis.calls.push).toBe(1);
  });

  it("asks Redis only from 80% of the limit, and refuses locally once Redis said no", async () => {
    const clock = { now: t0 };
    const rate = policy(10);
    const redis = sharedRedis(clock, rate);
    const limiter = new LocalFirstRateLimiter({
      policy: rate,
      ...redis,
      failures: reporter(clock).failures,
      now: () => clock.now,
    });
    const sources: string[] = [];
    for (let i = 0; i < 14; i++) {
      const d = await limiter.limit("redirect", "c");
      sources.push(`${d.allowed ? "ok" : "no"}:${d.source}`);
    }
    expect(sources).toEqual([
      ...Array(8).fill("ok:local"),
      "ok:redis",
      "ok:redis",
      ...Array(4).fill("no:local"),
    ]);
    // The 8 local admissions were pushed to Redis before the first consult, so it counted them.
    expect(redis.total("c")).toBe(10);
    expect(redis.calls.consult).toBe(2);
  });

  it("decides synchronously where it needs no round trip, and counts nothing where it would", async () => {
    const clock = { now: t0 };
    const rate = policy(10);
    const redis = sharedRedis(clock, rate);
    const limiter = new LocalFirstRateLimiter({
      policy: rate,
      ...redis,
      failures: reporter(clock).failures,
      now: () => clock.now,
    });
    const now = Array.from({ length: 8 }, () => limiter.decideNow("redirect", "c"));
    expect(now.map((d) => `${d?.allowed}:${d?.source}:${d?.remaining}`)).toEqual(
      Array.from({ length: 8 }, (_, i) => `true:local:${9 - i}`),
    );
    // From 80%: only Redis can say, so nothing is decided (or counted) synchronously…
    expect(limiter.decideNow("redirect", "c")).toBeUndefined();
    expect(limiter.decideNow("redirect", "c")).toBeUndefined();
    // …and `limit` takes over with the same counts: two more allowed, by Redis, then refusals.
    expect((await limiter.limit("redirect", "c")).source).toBe("redis");
    expect((await limiter.limit("redirect", "c")).allowed).toBe(true);
    expect((await limiter.limit("redirect", "c")).allowed).toBe(false);
    // A refusal Redis gave is remembered: decided synchronously from then on.
    expect(limiter.decideNow("redirect", "c")).toMatchObject({ allowed: false, source: "local" });
    expect(redis.total("c")).toBe(10);
  });

  it("limits a client spread over two instances within two sync intervals of crossing its limit", async () => {
    const clock = { now: t0 };
    const rate = policy(100);
    const redis = sharedRedis(clock, rate);
    const { failures } = reporter(clock);
    const options = { policy: rate, ...redis, failures, syncIntervalMs: 1_000, now: () => clock.now };
    const instances = [new LocalFirstRateLimiter(options), new LocalFirstRateLimiter(options)];
    let admitted = 0;
    let crossedAt: number | undefined;
    let lastAdmittedAt = 0;
    // 100 requests/s in total, alternating instances, for 10 s (the limit is 100 per minute).
    for (let i = 0; i < 1_000; i++) {
      clock.now += 10;
      const decision = await instances[i % 2]!.limit("redirect", "spread");
      await decision.pending;
      if (!decision.allowed) continue;
      admitted++;
      lastAdmittedAt = clock.now;
      if (admitted === rate.limit) crossedAt = clock.now;
    }
    expect(crossedAt).toBeDefined();
    expect(lastAdmittedAt - crossedAt!).toBeLessThanOrEqual(2 * 1_000);
    // The overshoot is what the instances admitted locally below 80% before seeing each other.
    expect(admitted).toBeLessThanOrEqual(rate.limit * 1.4);
    await Promise.all(instances.map((instance) => instance.flush()));
    expect(redis.total("spread")).toBe(admitted);
  });

  it("waits at most timeoutMs on a slow Redis near the limit, then fails open and counts it", async () => {
    const clock = { now: t0 };
    const rate = policy(10);
    const redis = sharedRedis(clock, rate);
    const { failures, metrics } = reporter(clock);
    const slow: WindowSync = { push: () => new Promise(() => {}) };
    const limiter = new LocalFirstRateLimiter({
      policy: rate,
      ...redis,
      sync: slow,
      failures,
      timeoutMs: 30,
      now: () => clock.now,
    });
    for (let i = 0; i < 8; i++) await limiter.limit("redirect", "slow");
    const started = performance.now();
    const decision = await limiter.limit("redirect", "slow");
    expect(performance.now() - started).toBeLessThan(30 + 100);
    expect(decision).toMatchObject({ allowed: true, source: "fail-open" });
    expect(redis.calls.consult).toBe(0);
    expect(metrics.render()).toContain('rate_limit_failures_total{mode="open",policy="redirect"} 1');
  });

  it("fails open when Redis is down: redirects flow, failures are counted, one log line per minute", async () => {
    const clock = { now: t0 };
    const rate = policy(20);
    const { metrics, logs, failures } = reporter(clock);
    const down: Requester = {
      request: async () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:1")),
    };
    const redis = new Redis(down);
    const policies = { redirect: rate } as never;
    const authority = new UpstashRateLimiter({
      redis,
      policies,
      timeoutMs: 50,
      failures,
      now: () => clock.now,
    });
    const sync = createUpstashWindowSync(redis, rate);
    const limiter = new LocalFirstRateLimiter({
      policy: rate,
      authority,
      sync,
      failures,
      now: () => clock.now,
    });
    let allowed = 0;
    for (let i = 0; i < 3_000; i++) {
      clock.now += 10;
      // 300 clients with 10 requests each, and one that keeps coming back near its limit.
      const id = i % 2 === 0 ? `198.51.100.${i % 300}` : "near-limit";
      const decision = await limiter.limit("redirect", id);
      await decision.pending;
      if (decision.allowed) allowed++;
    }
    expect(allowed).toBeGreaterThanOrEqual(1_500);
    const failuresTotal = metrics
      .render()
      .match(/rate_limit_failures_total\{mode="open",policy="redirect"\} (\d+)/);
    expect(Number(failuresTotal?.[1])).toBeGreaterThan(20);
    expect(logs.filter((line) => line.includes("cannot reach Redis"))).toHaveLength(1);
    // The next interval brings one more line, saying how many were left out.
    clock.now += minute;
    await (await limiter.limit("redirect", "near-limit")).pending;
    const lines = logs.filter((line) => line.includes("cannot reach Redis")).map((line) => JSON.parse(line));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ level: "warn", policy: "redirect", mode: "open" });
    expect(lines[1].suppressedSinceLastLog).toBeGreaterThan(0);
  });
});
