import { randomBytes, randomUUID } from "node:crypto";
import type { Requester, UpstashRequest, UpstashResponse } from "@upstash/redis";
import { Redis } from "@upstash/redis";
import { Hono } from "hono";
import { afterAll, describe, expect, it } from "vitest";
import { startUpstashRestServer } from "../../dev/upstash-rest-server";
import { loadConfig } from "../../src/config";
import type { AppEnv } from "../../src/http/app-env";
import { onError } from "../../src/http/problem-handlers";
import { createLogger } from "../../src/platform/log/logger";
import { MetricsRegistry } from "../../src/platform/metrics/metrics-registry";
import { createTcpRequester } from "../../src/platform/node/redis-tcp-requester";
import { createRateLimiter } from "../../src/ratelimit/create-rate-limiter";
import { FailureReporter } from "../../src/ratelimit/failure-reporter";
import { LocalFirstRateLimiter } from "../../src/ratelimit/local-first-rate-limiter";
import { rateLimit } from "../../src/ratelimit/rate-limit-middleware";
import { policiesFromConfig } from "../../src/ratelimit/rate-limit-policies";
import type { RateLimitPolicy } from "../../src/ratelimit/rate-limiter";
import { UpstashRateLimiter } from "../../src/ratelimit/upstash-rate-limiter";
import { createUpstashWindowSync } from "../../src/ratelimit/upstash-window-sync";
import type { Services } from "../../src/services";

const redisUrl = process.env.REDIS_URL;
const runId = `it-${randomUUID().slice(0, 8)}`;
const id = (name: string) => `${runId}-${name}`;
// Hour-long windows: a test never straddles a window edge, so counts are exact.
const policies = policiesFromConfig(
  loadConfig({ RATE_LIMIT_API_WRITE: "5/1h", RATE_LIMIT_PASSWORD: "3/1h", RATE_LIMIT_REDIRECT: "40/1h" }),
);
const timeoutMs = 50;

/** A `@upstash/redis` client and every round trip it made (as command names), counted at the transport. */
interface Wired {
  redis: Redis;
  wire: string[][];
  noscript: number;
  close(): Promise<void>;
}

const names = (body: unknown): string[] =>
  Array.isArray(body) && Array.isArray(body[0])
    ? (body as unknown[][]).map((command) => String(command[0]).toLowerCase())
    : [String((body as unknown[])[0]).toLowerCase()];

/** REST clients read `fetch` at call time; one wrapper counts the requests of each stand-in by URL. */
const restClients = new Map<string, Wired>();
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const res = await realFetch(input, init);
  const client = [...restClients].find(([base]) => String(input).startsWith(base))?.[1];
  if (client) {
    client.wire.push(names(JSON.parse(String(init?.body))));
    client.noscript += (await res.clone().text()).match(/NOSCRIPT/g)?.length ?? 0;
  }
  return res;
};
afterAll(() => {
  globalThis.fetch = realFetch;
});

const flavours = {
  /** Node: the TCP requester over ioredis. */
  "redis-tcp": async (url = redisUrl!): Promise<Wired> => {
    const requester = createTcpRequester(url);
    const wired: Wired = { redis: undefined as never, wire: [], noscript: 0, close: () => requester.close() };
    const counting: Requester = {
      async request<T>(req: UpstashRequest): Promise<UpstashResponse<T>> {
        wired.wire.push(names(req.body));
        const res = await requester.request<T>(req);
        const replies = (Array.isArray(res) ? res : [res]) as UpstashResponse<unknown>[];
        wired.noscript += replies.filter((reply) => reply.error?.startsWith("NOSCRIPT")).length;
        return res;
      },
    };
    wired.redis = new Redis(counting);
    return wired;
  },
  /** The edge: Upstash REST, here the local stand-in in front of the same Redis. */
  "upstash-rest": async (url?: string): Promise<Wired> => {
    const token = randomBytes(16).toString("hex");
    const server = url ? undefined : await startUpstashRestServer({ redisUrl: redisUrl!, token });
    const base = url ?? server!.url;
    const wired: Wired = {
      redis: new Redis({ url: base, token, enableTelemetry: false }),
      wire: [],
      noscript: 0,
      close: async () => {
        restClients.delete(base);
        await server?.close();
      },
    };
    restClients.set(base, wired);
    return wired;
  },
};

function failuresFor() {
  const metrics = new MetricsRegistry();
  const logs: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => logs.push(line) });
  return { metrics, logs, logger, failures: new FailureReporter({ metrics, logger }) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(Object.keys(flavours) as (keyof typeof flavours)[])("rate limiting over %s", (flavour) => {
  describe.skipIf(!redisUrl)(redisUrl ? "on real Redis" : "on real Redis — SKIPPED: REDIS_URL unset", () => {
    const open: Wired[] = [];
    const connect = async () => {
      const wired = await flavours[flavour]();
      open.push(wired);
      return wired;
    };
    afterAll(async () => {
      const cleaner = createTcpRequester(redisUrl!);
      const redis = new Redis(cleaner);
      const keys = await redis.keys(`el:rl:*:${runId}-*`);
      if (keys.length > 0) await redis.del(...keys);
      await cleaner.close();
      await Promise.all(open.map((wired) => wired.close()));
    });

    it("enforces one limit shared by two instances, with EVALSHA hits and no NOSCRIPT per call", async () => {
      const [a, b] = [await connect(), await connect()];
      const { failures } = failuresFor();
      const limiters = [a, b].map(
        (w) => new UpstashRateLimiter({ redis: w.redis, policies, timeoutMs: 500, failures }),
      );
      const decisions = [];
      for (let i = 0; i < 12; i++)
        decisions.push(await limiters[i % 2]!.limit("api-write", id(`key-${flavour}`)));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
      expect(decisions.slice(0, 5).map((d) => d.remaining)).toEqual([4, 3, 2, 1, 0]);
      // All from Redis: had the `#!lua flags=allow-key-locking` script been refused, these would be fail-open.
      expect(new Set(decisions.map((d) => d.source))).toEqual(new Set(["redis"]));
      const sent = [...a.wire, ...b.wire].flat();
      // One EVALSHA per admission plus each instance's first refusal; later refusals come from the
      // in-process ephemeral cache. At most one EVAL (script load) per connection, never one per call.
      expect(sent.filter((name) => name === "evalsha")).toHaveLength(5 + 2);
      expect(sent.filter((name) => name === "eval").length).toBeLessThanOrEqual(2);
      expect(a.noscript + b.noscript).toBeLessThanOrEqual(2);
    });

    it("local-first redirects: no round trip far from the limit, and one limit across two instances", async () => {
      const [a, b] = [await connect(), await connect()];
      const { failures } = failuresFor();
      const redirect: RateLimitPolicy = policies.redirect;
      const instance = (w: Wired, syncIntervalMs: number) =>
        new LocalFirstRateLimiter({
          policy: redirect,
          authority: new UpstashRateLimiter({ redis: w.redis, policies, timeoutMs: 500, failures }),
          sync: createUpstashWindowSync(w.redis, redirect),
          failures,
          syncIntervalMs,
        });

      const quiet = instance(a, 60_000);
      for (let i = 0; i < 31; i++)
        expect((await quiet.limit("redirect", id(`fresh-${flavour}`))).source).toBe("local");
      expect(a.wire).toHaveLength(0);

      const syncIntervalMs = 100;
      const [left, right] = [instance(a, syncIntervalMs), instance(b, syncIntervalMs)];
      let admitted = 0;
      let crossedAt = 0;
      let lastAdmittedAt = 0;
      const until = Date.now() + 2_000;
      for (let i = 0; Date.now() < until; i++) {
        const decision = await (i % 2 === 0 ? left : right).limit("redirect", id(`spread-${flavour}`));
        if (decision.allowed && ++admitted === redirect.limit) crossedAt = Date.now();
        if (decision.allowed) lastAdmittedAt = Date.now();
        await sleep(5);
      }
      expect(admitted).toBeGreaterThanOrEqual(redirect.limit);
      expect(admitted).toBeLessThanOrEqual(redirect.limit * 1.5);
      expect(lastAdmittedAt - crossedAt).toBeLessThanOrEqual(2 * syncIntervalMs + 100);
      await Promise.all([left.flush(), right.flush()]);
      // Every admission, local or checked, is in Redis exactly once.
      const window = Math.floor(Date.now() / redirect.windowMs);
      expect(Number(await a.redis.get(`el:rl:redirect:${id(`spread-${flavour}`)}:${window}`))).toBe(admitted);
    });

    it("serves all five fields, Retry-After and a problem+json 429 through the middleware", async () => {
      const w = await connect();
      const config = loadConfig({ RATE_LIMIT_API_WRITE: "2/1h", RATE_LIMIT_TIMEOUT_MS: "500" });
      const { metrics, logger } = failuresFor();
      const rateLimiter = createRateLimiter({ config, redis: w.redis, metrics, logger });
      const app = new Hono<AppEnv>();
      app.use(async function provideServices(c, next) {
        c.set("services", { metrics, rateLimiter } as unknown as Services);
        await next();
      });
      app.post("/links", rateLimit({ policy: "api-write", identify: () => id(`mw-${flavour}`) }), (c) =>
        c.json({}, 201),
      );
      app.onError(onError);
      const statuses = [];
      let res: Response | undefined;
      for (let i = 0; i < 3; i++) {
        res = await app.request("/links", { method: "POST" });
        statuses.push(res.status);
      }
      expect(statuses).toEqual([201, 201, 429]);
      expect(res!.headers.get("content-type")).toBe("application/problem+json");
      expect(res!.headers.get("ratelimit-policy")).toBe('"api-write";q=2;w=3600');
      expect(res!.headers.get("ratelimit")).toMatch(/^"api-write";r=0;t=\d+$/);
      expect(res!.headers.get("ratelimit-limit")).toBe("2");
      expect(res!.headers.get("ratelimit-remaining")).toBe("0");
      const retryAfter = Number(res!.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(res!.headers.get("ratelimit-reset")).toBe(String(retryAfter));
      expect(await res!.json()).toMatchObject({ status: 429, code: "RATE_LIMITED" });
    });
  });

  describe("with Redis unreachable (127.0.0.1:1)", () => {
    const unreachable = { "redis-tcp": "redis://127.0.0.1:1", "upstash-rest": "http://127.0.0.1:1" }[flavour];

    it(`fails closed for passwords and open for redirects within ~${timeoutMs} ms, not ratelimit's 5 s`, async () => {
      const w = await flavours[flavour](unreachable);
      try {
        const { failures, metrics, logs } = failuresFor();
        const shared = new UpstashRateLimiter({ redis: w.redis, policies, timeoutMs, failures });
        const timed = async <T>(work: () => Promise<T>) => {
          const started = performance.now();
          const result = await work();
          // Bounded by RATE_LIMIT_TIMEOUT_MS (plus scheduling slack), whatever the transport does.
          expect(performance.now() - started).toBeLessThan(timeoutMs + 100);
          return result;
        };
        for (let i = 0; i < 5; i++) {
          const password = await timed(() => shared.limit("password", id(`pw-${i}`)));
          const redirect = await timed(() => shared.limit("redirect", id(`ip-${i}`)));
          expect(password).toMatchObject({ allowed: false, source: "fail-closed" });
          expect(redirect).toMatchObject({ allowed: true, source: "fail-open" });
        }
        expect(metrics.render()).toContain('rate_limit_failures_total{mode="closed",policy="password"} 5');
        expect(logs).toHaveLength(2);
      } finally {
        await w.close();
      }
    });
  });
});
