import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import type { AppEnv } from "../../src/http/app-env";
import { AppError } from "../../src/http/errors";
import { onError } from "../../src/http/problem-handlers";
import { createLogger } from "../../src/platform/log/logger";
import { MetricsRegistry } from "../../src/platform/metrics/metrics-registry";
import { failureDecision } from "../../src/ratelimit/fail-mode";
import { MemoryRateLimiter } from "../../src/ratelimit/memory-rate-limiter";
import {
  apiRateLimit,
  passwordRateLimit,
  rateLimit,
  redirectRateLimit,
} from "../../src/ratelimit/rate-limit-middleware";
import { policiesFromConfig } from "../../src/ratelimit/rate-limit-policies";
import type { RateLimiter } from "../../src/ratelimit/rate-limiter";
import type { Services } from "../../src/services";

const t0 = 29_000_000 * 60_000;
const policies = policiesFromConfig(
  loadConfig({ RATE_LIMIT_REDIRECT: "3/60s", RATE_LIMIT_API_READ: "5/60s", RATE_LIMIT_API_WRITE: "2/60s" }),
);
const fields = ["ratelimit-policy", "ratelimit", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"];

function testApp(limiter: RateLimiter, clock = { now: t0 + 20_000 }) {
  const metrics = new MetricsRegistry();
  const app = new Hono<AppEnv>();
  app.use(requestId());
  app.use(async function provideServices(c, next) {
    c.set("services", { metrics, rateLimiter: limiter } as unknown as Services);
    await next();
  });
  const now = () => clock.now;
  const byIp = rateLimit({ policy: "redirect", identify: (c) => c.req.header("x-test-ip"), now });
  app.get("/go", byIp, (c) => c.redirect("https://example.com/", 302));
  app.get("/missing", byIp, () => {
    throw new AppError("NOT_FOUND", { detail: "No link /missing." });
  });
  app.get("/raw", byIp, () => new Response("raw"));
  // Response.redirect() has immutable headers, like a response passed through from fetch().
  app.get("/immutable", byIp, () => Response.redirect("https://example.com/", 302));
  app.all(
    "/api",
    rateLimit({
      policy: (c) => (c.req.method === "GET" ? "api-read" : "api-write"),
      identify: () => "key_1",
      now,
    }),
    (c) => c.json({ ok: true }),
  );
  app.onError(onError);
  return { app, metrics };
}

const get = (app: Hono<AppEnv>, path: string, ip = "203.0.113.7") =>
  app.request(path, { headers: { "x-test-ip": ip } });

describe("rateLimit middleware", () => {
  it("puts all five fields on every response it lets through: redirects, errors, raw responses", async () => {
    const clock = { now: t0 + 20_000 };
    const { app } = testApp(new MemoryRateLimiter(policies, { now: () => clock.now }), clock);
    const res = await get(app, "/go");
    expect(res.status).toBe(302);
    expect(Object.fromEntries(fields.map((name) => [name, res.headers.get(name)]))).toEqual({
      "ratelimit-policy": '"redirect";q=3;w=60',
      ratelimit: '"redirect";r=2;t=40',
      "ratelimit-limit": "3",
      "ratelimit-remaining": "2",
      "ratelimit-reset": "40",
    });
    expect(res.headers.get("retry-after")).toBeNull();
    const missing = await get(app, "/missing", "203.0.113.8");
    expect(missing.status).toBe(404);
    expect(missing.headers.get("ratelimit")).toBe('"redirect";r=2;t=40');
    const raw = await get(app, "/raw", "203.0.113.9");
    expect(raw.headers.get("ratelimit")).toBe('"redirect";r=2;t=40');
    const immutable = await get(app, "/immutable", "203.0.113.10");
    expect(immutable.status).toBe(302);
    expect(immutable.headers.get("location")).toBe("https://example.com/");
    expect(immutable.headers.get("ratelimit")).toBe('"redirect";r=2;t=40');
  });

  it("answers 429 problem+json with Retry-After and the fields once the quota is spent", async () => {
    const clock = { now: t0 + 20_000 };
    const { app, metrics } = testApp(new MemoryRateLimiter(policies, { now: () => clock.now }), clock);
    for (let i = 0; i < 3; i++) expect((await get(app, "/go")).status).toBe(302);
    const res = await get(app, "/go");
    expect(res.status).toBe(429);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("retry-after")).toBe("41");
    expect(res.headers.get("ratelimit")).toBe('"redirect";r=0;t=41');
    for (const name of fields) expect(res.headers.get(name)).not.toBeNull();
    expect(await res.json()).toMatchObject({
      type: "https://edgelink.dev/problems/rate-limited",
      status: 429,
      code: "RATE_LIMITED",
      detail: expect.stringContaining('"redirect"'),
      instance: "/go",
    });
    expect(metrics.render()).toContain('rate_limit_refusals_total{policy="redirect",source="memory"} 1');
  });

  it("picks the policy per request: reads and writes of one API key have separate quotas", async () => {
    const { app } = testApp(new MemoryRateLimiter(policies));
    expect((await app.request("/api", { method: "POST" })).headers.get("ratelimit-policy")).toBe(
      '"api-write";q=2;w=60',
    );
    expect((await app.request("/api", { method: "POST" })).status).toBe(200);
    expect((await app.request("/api", { method: "POST" })).status).toBe(429);
    const read = await app.request("/api");
    expect(read.status).toBe(200);
    expect(read.headers.get("ratelimit-remaining")).toBe("4");
  });

  it("answers 503 with Retry-After when a fail-closed policy cannot reach Redis", async () => {
    const closed: RateLimiter = {
      limit: async () => failureDecision({ ...policies.password, name: "redirect" }, t0 + 20_000),
      flush: async () => {},
    };
    const { app } = testApp(closed);
    const res = await get(app, "/go");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await res.json()).toMatchObject({ code: "DEPENDENCY_UNAVAILABLE" });
  });

  it("lets a request the policy does not apply to through, unlimited and without fields", async () => {
    const { app } = testApp(new MemoryRateLimiter(policies));
    for (let i = 0; i < 5; i++) {
      const res = await app.request("/go");
      expect(res.status).toBe(302);
      expect(res.headers.get("ratelimit")).toBeNull();
    }
  });
});

describe("the mountable presets", () => {
  function presetApp() {
    const calls: string[] = [];
    const memory = new MemoryRateLimiter(policies);
    const recording: RateLimiter = {
      limit: (policy, identifier) => {
        calls.push(`${policy} ${identifier}`);
        return memory.limit(policy, identifier);
      },
      flush: async () => {},
    };
    const logs: string[] = [];
    const services = {
      metrics: new MetricsRegistry(),
      logger: createLogger({ level: "error", write: (line) => logs.push(line) }),
      rateLimiter: recording,
      runtime: "node",
      config: loadConfig({ CLIENT_IP_HEADER: "X-Forwarded-For" }),
    } as unknown as Services;
    const app = new Hono<AppEnv>();
    app.use(async function provideServices(c, next) {
      c.set("services", services);
      await next();
    });
    app.use("/api/*", async function fakeAuth(c, next) {
      const key = c.req.header("authorization");
      if (key) c.set("auth", { workspaceId: "ws_1", keyId: key, scopes: ["links:read"] });
      await next();
    });
    app.use("/api/*", apiRateLimit());
    app.all("/api/links", (c) => c.json([]));
    app.get("/:slug", redirectRateLimit(), (c) => c.redirect("https://example.com/", 302));
    app.post(
      "/:slug",
      passwordRateLimit((c) => `sho.rt/${c.req.param("slug")}`),
      (c) => c.text("ok"),
    );
    app.onError(onError);
    return { app, calls, logs };
  }
  const from = (ip: string, init: RequestInit = {}) => ({
    ...init,
    headers: { "x-forwarded-for": `6.6.6.6, ${ip}` },
  });

  it("limits redirects per client IP, password attempts per IP and link, the API per key and scope", async () => {
    const { app, calls } = presetApp();
    await app.request("/abc", from("192.0.2.1"));
    await app.request("/abc", from("192.0.2.1", { method: "POST" }));
    await app.request("/api/links", { headers: { authorization: "key_1" } });
    await app.request("/api/links", { method: "DELETE", headers: { authorization: "key_1" } });
    expect(calls).toEqual([
      "redirect 192.0.2.1",
      "password 192.0.2.1|sho.rt/abc",
      "api-read key_1",
      "api-write key_1",
    ]);
  });

  it("refuses the API limiter mounted where no key was authenticated, instead of not limiting", async () => {
    const { app, logs } = presetApp();
    const res = await app.request("/api/links");
    expect(res.status).toBe(500);
    expect(logs.join("\n")).toContain("mount it after the auth middleware");
  });
});
