import type { Requester, UpstashRequest, UpstashResponse } from "@upstash/redis";
import { Redis } from "@upstash/redis";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { createLogger } from "../../src/platform/log/logger";
import { MetricsRegistry } from "../../src/platform/metrics/metrics-registry";
import { FailureReporter } from "../../src/ratelimit/failure-reporter";
import { policiesFromConfig } from "../../src/ratelimit/rate-limit-policies";
import { UpstashRateLimiter } from "../../src/ratelimit/upstash-rate-limiter";

const policies = policiesFromConfig(loadConfig({ RATE_LIMIT_PASSWORD: "3/60s" }));

/** An `@upstash/redis` transport that answers every command with `reply`, and counts requests. */
function fakeRedis(reply: (command: unknown[]) => Promise<unknown>) {
  const calls: string[] = [];
  const requester: Requester = {
    async request<T>(req: UpstashRequest): Promise<UpstashResponse<T>> {
      const batch = req.path?.[0] === "pipeline";
      const commands = (batch ? req.body : [req.body]) as unknown[][];
      calls.push(...commands.map((command) => String(command[0]).toLowerCase()));
      const results = await Promise.all(commands.map(async (command) => ({ result: await reply(command) })));
      return (batch ? results : results[0]) as UpstashResponse<T>;
    },
  };
  return { redis: new Redis(requester), calls };
}

function limiterOver(reply: (command: unknown[]) => Promise<unknown>, timeoutMs = 20) {
  const metrics = new MetricsRegistry();
  const logs: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => logs.push(line) });
  const { redis, calls } = fakeRedis(reply);
  const failures = new FailureReporter({ metrics, logger });
  return { limiter: new UpstashRateLimiter({ redis, policies, timeoutMs, failures }), calls, metrics, logs };
}

const never = () => new Promise<never>(() => {});
const refused = () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:1"));

describe("UpstashRateLimiter when Redis does not answer", () => {
  it("fails CLOSED for password attempts after its timeout, although @upstash/ratelimit's own timeout succeeds", async () => {
    const { limiter, metrics } = limiterOver(never);
    const started = performance.now();
    const decision = await limiter.limit("password", "198.51.100.4|link-1");
    expect(performance.now() - started).toBeLessThan(500);
    expect(decision).toMatchObject({ allowed: false, remaining: 0, source: "fail-closed" });
    expect(metrics.render()).toContain('rate_limit_failures_total{mode="closed",policy="password"} 1');
  });

  it("fails OPEN for redirects and API calls, on a timeout and on a refused connection", async () => {
    for (const reply of [never, refused]) {
      const { limiter } = limiterOver(reply);
      for (const policy of ["redirect", "api-read", "api-write"] as const) {
        const decision = await limiter.limit(policy, "key-1");
        expect(decision).toMatchObject({ allowed: true, source: "fail-open", limit: policies[policy].limit });
      }
    }
  });

  it("logs one line per policy and interval however many requests fail", async () => {
    const { limiter, logs, metrics } = limiterOver(refused);
    for (let i = 0; i < 50; i++) {
      await limiter.limit("password", `ip-${i}|link`);
      await limiter.limit("api-read", `key-${i}`);
    }
    const lines = logs.map((line) => JSON.parse(line));
    expect(lines.map((line) => [line.policy, line.mode])).toEqual([
      ["password", "closed"],
      ["api-read", "open"],
    ]);
    expect(lines[0]).toMatchObject({ level: "warn", error: { message: "connect ECONNREFUSED 127.0.0.1:1" } });
    expect(metrics.render()).toContain('rate_limit_failures_total{mode="open",policy="api-read"} 50');
  });
});

describe("UpstashRateLimiter when Redis answers", () => {
  it("maps a refusal and then answers it from the in-process ephemeral cache, without Redis", async () => {
    // The sliding-window script answers [remaining, limit]; -1 means refused.
    const { limiter, calls } = limiterOver(async (command) =>
      String(command[0]) === "evalsha" ? [-1, 3] : null,
    );
    const first = await limiter.limit("password", "ip|link");
    expect(first).toMatchObject({ allowed: false, remaining: 0, limit: 3, source: "redis" });
    expect(first.resetAt % 60_000).toBe(0);
    const callsAfterFirst = calls.length;
    const second = await limiter.limit("password", "ip|link");
    expect(second).toMatchObject({ allowed: false, source: "redis" });
    expect(calls.length).toBe(callsAfterFirst);
  });

  it("passes an admitted decision through with Redis's remaining count", async () => {
    const { limiter } = limiterOver(async () => [7, 10]);
    const decision = await limiter.limit("api-write", "key-9");
    expect(decision).toMatchObject({
      allowed: true,
      remaining: 7,
      source: "redis",
      policy: { name: "api-write" },
    });
  });
});

describe("FailureReporter", () => {
  it("logs at most once per interval and policy, with the count of what it left out", () => {
    const clock = { now: 0 };
    const logs: string[] = [];
    const logger = createLogger({ level: "debug", write: (line) => logs.push(line) });
    const reporter = new FailureReporter({
      metrics: new MetricsRegistry(),
      logger,
      now: () => clock.now,
      logIntervalMs: 60_000,
    });
    for (let i = 0; i < 100; i++) {
      clock.now += 1_000;
      reporter.report("redirect", "open", new Error("down"));
    }
    const lines = logs.map((line) => JSON.parse(line));
    expect(lines.map((line) => line.suppressedSinceLastLog)).toEqual([0, 59]);
  });
});
