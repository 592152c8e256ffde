import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpstashCache } from "../../src/platform/cache/upstash-cache";
import type { Database } from "../../src/platform/db/database";
import { createNodePostgresDatabase } from "../../src/platform/db/node-postgres-database";
import { createTcpRequester } from "../../src/platform/node/redis-tcp-requester";
import { startTestApp, type TestApp } from "../support/app";

const closedPort = "127.0.0.1:1";

describe("errors are problem+json and never leak internals", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  it("unknown routes answer a 404 problem carrying the request id", async () => {
    for (const path of ["/api/v1/nothing", "/a/b/c"]) {
      const res = await t.app.request(path, { method: "GET" });
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      const body = await res.json();
      expect(body).toMatchObject({
        status: 404,
        code: "NOT_FOUND",
        type: expect.stringMatching(/^https:\/\//),
      });
      expect(body.requestId).toBe(res.headers.get("x-request-id"));
    }
  });

  it("names each invalid field", async () => {
    for (const slug of ["a".repeat(65), "a.b", "api", "Metrics"]) {
      const res = await t.app.request(`/${slug}`);
      expect(res.status, slug).toBe(400);
      const body = await res.json();
      expect(body.code).toBe("VALIDATION_FAILED");
      expect(body.errors[0].field).toBe("param.slug");
    }
  });

  it("echoes a sane X-Request-Id and replaces an unsafe one", async () => {
    const sane = await t.app.request("/healthz", { headers: { "X-Request-Id": "client-abc_123" } });
    expect(sane.headers.get("x-request-id")).toBe("client-abc_123");
    const unsafe = await t.app.request("/nope", { headers: { "X-Request-Id": "bad id\twith spaces" } });
    expect(unsafe.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect((await unsafe.json()).requestId).toBe(unsafe.headers.get("x-request-id"));
  });

  it("a database failure on the redirect path answers 503 with Retry-After, leaking nothing", async () => {
    const failing: Database = {
      ...t.services.db,
      ping: async () => {},
      primary: new Proxy(t.services.db.primary, {
        get: () => () => {
          throw new Error(
            "relation \"links\" does not exist at SELECT * FROM links WHERE password='hunter2'",
          );
        },
      }),
    };
    const broken = await startTestApp({}, { db: failing });
    const res = await broken.app.request("/someslug");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    const text = await res.text();
    expect(text).not.toMatch(/relation|SELECT|hunter2|stack|at /);
    expect(JSON.parse(text)).toMatchObject({ code: "DEPENDENCY_UNAVAILABLE" });
    const logged = broken.logs.find((line) => line.includes("redirect lookup failed"));
    expect(logged).toContain(res.headers.get("x-request-id"));
    await broken.close();
  });

  it("guards /metrics with the bearer token when one is configured", async () => {
    const guarded = await startTestApp({ METRICS_TOKEN: "s3cret-metrics-token-0123" }, { db: t.services.db });
    expect((await guarded.app.request("/metrics")).status).toBe(401);
    const ok = await guarded.app.request("/metrics", {
      headers: { Authorization: "Bearer s3cret-metrics-token-0123" },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toContain("text/plain");
  });
});

describe("readiness names the dependency that is down", () => {
  it("Redis unreachable → still ready but degraded, naming redis, within the readiness timeout", async () => {
    const requester = createTcpRequester(`redis://${closedPort}`);
    const cache = new UpstashCache(new Redis(requester), "redis-tcp", () => requester.close());
    const t = await startTestApp({}, { cache });
    const started = performance.now();
    const res = await t.app.request("/readyz");
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      status: "degraded",
      failed: ["redis"],
      checks: { postgres: { status: "up" }, redis: { status: "down" } },
    });
    await t.close();
  });

  it("Postgres unreachable → 503 naming postgres, and the URL never appears in the body", async () => {
    const db = createNodePostgresDatabase({
      url: `postgres://edgelink:pw-in-url@${closedPort}/x`,
      poolMax: 1,
      statementTimeoutMs: 1000,
    });
    const t = await startTestApp({}, { db });
    const res = await t.app.request("/readyz");
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({
      failed: ["postgres"],
      checks: { postgres: { status: "down" } },
    });
    expect(text).not.toContain("pw-in-url");
    await t.close();
  });

  it("a dependency that hangs is reported down at the timeout, not waited for", async () => {
    const t = await startTestApp({ READINESS_TIMEOUT_MS: "200" });
    const hanging = await startTestApp(
      { READINESS_TIMEOUT_MS: "200" },
      {
        db: { ...t.services.db, ping: () => new Promise(() => {}) },
      },
    );
    const started = performance.now();
    const res = await hanging.app.request("/readyz");
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(res.status).toBe(503);
    expect((await res.json()).checks.postgres.error).toContain("200 ms");
    await t.close();
  });
});
