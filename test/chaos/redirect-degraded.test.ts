import { createConnection, createServer, type Server, type Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { createNodePostgresDatabase } from "../../src/platform/db/node-postgres-database";
import {
  type Api,
  type ApiLink,
  apiAs,
  expectProblem,
  roomyLimits,
  type Tenant,
  tenant,
} from "../support/api";
import { startTestApp, type TestApp } from "../support/app";

const databaseUrl = inject("testDatabaseUrl");
const redisUrl = process.env.REDIS_URL;
const skip = !databaseUrl || !redisUrl;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * A TCP proxy in front of a real service that the test can cut: `cut()` destroys every open
 * connection and stops listening, so the app sees resets on its pooled connections and refusals
 * on new ones — what a crashed or partitioned Redis or Postgres looks like from the app.
 */
async function startProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection(target);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  return {
    port,
    /** Rewrites `url` (postgres:// or redis://) to go through the proxy. */
    via(url: string) {
      const proxied = new URL(url);
      proxied.hostname = "127.0.0.1";
      proxied.port = String(port);
      return proxied.toString();
    },
    async cut() {
      const closed = new Promise<void>((done) => server.close(() => done()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
type Proxy = Awaited<ReturnType<typeof startProxy>>;
const targetOf = (url: string) => ({ host: new URL(url).hostname, port: Number(new URL(url).port) });

/** What must never reach a client: stack frames, SQL, driver or connection details. */
const leak =
  /\bat \S+ \(|\.[jt]s:\d+|node_modules|\bselect\b|\binsert\b|ECONNREFUSED|ECONNRESET|127\.0\.0\.1|postgres(ql)?:\/\/|redis:\/\/|terminated/i;

describe.skipIf(skip)(`Redis down${skip ? " (skipped: needs DATABASE_URL and REDIS_URL)" : ""}`, () => {
  let proxy: Proxy;
  let t: TestApp;
  let owner: Tenant;
  let api: Api;
  let followed: ApiLink;
  let unfollowed: ApiLink;

  beforeAll(async () => {
    proxy = await startProxy(targetOf(redisUrl!));
    // Cache and rate limiter both reach Redis through the proxy.
    t = await startTestApp({
      ...roomyLimits,
      REDIS_URL: proxy.via(redisUrl!),
      LINK_CACHE_LOCAL_TTL_SECONDS: "1",
      RATE_LIMIT_PASSWORD: "3/15m",
    });
    owner = await tenant(t, "acme");
    api = apiAs(t, owner.key);
    followed = await api.create({ url: "https://example.com/followed" });
    unfollowed = await api.create({ url: "https://example.com/unfollowed" });
    expect((await t.app.request(`/${followed.slug}`)).status).toBe(302);
    expect((await (await t.app.request("/readyz")).json()).status).toBe("ready");
    await proxy.cut();
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.cut().catch(() => {});
  });

  it("still redirects: from the local tier, then from Postgres, never waiting long on Redis", async () => {
    const timed = async (slug: string) => {
      const started = performance.now();
      const res = await t.app.request(`/${slug}`);
      return { res, ms: performance.now() - started };
    };
    const cached = await timed(followed.slug);
    expect([cached.res.status, cached.res.headers.get("location")]).toEqual([302, followed.url]);
    const fromPostgres = await timed(unfollowed.slug);
    expect([fromPostgres.res.status, fromPostgres.res.headers.get("location")]).toEqual([
      302,
      unfollowed.url,
    ]);
    await sleep(1_100);
    const lapsed = await timed(followed.slug);
    expect([lapsed.res.status, lapsed.res.headers.get("location")]).toEqual([302, followed.url]);
    for (const { ms } of [cached, fromPostgres, lapsed]) expect(ms).toBeLessThan(500);
    expect((await t.app.request(`/nothing-${crypto.randomUUID().slice(0, 8)}`)).status).toBe(404);
  });

  it("reports /readyz 200 degraded, naming redis", async () => {
    const res = await t.app.request("/readyz");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: "degraded",
      failed: ["redis"],
      checks: { postgres: { status: "up" }, redis: { status: "down" } },
    });
  });

  it("keeps the API working, and an edit is visible here at once", async () => {
    const created = await api.post("/links", { url: "https://example.com/during-outage" });
    expect(created.status).toBe(201);
    const link = (await created.json()) as ApiLink;
    expect((await t.app.request(`/${link.slug}`)).headers.get("location")).toBe(link.url);
    expect((await api.patch(`/links/${link.id}`, { url: "https://example.com/edited" })).status).toBe(200);
    expect((await t.app.request(`/${link.slug}`)).headers.get("location")).toBe("https://example.com/edited");
    // The failed Redis invalidation is said out loud: other instances may serve the old entry.
    expect(t.logs.some((line) => line.includes("link cache invalidation failed in redis"))).toBe(true);
  });

  it("refuses password attempts (fail closed) with 503 + Retry-After, not a free-for-all", async () => {
    const link = await api.create({ url: "https://example.com/pw", password: "pw" });
    const res = await t.app.request(`/${link.slug}`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "password=guess",
    });
    await expectProblem(res, 503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });
});

describe.skipIf(skip)(`Postgres down${skip ? " (skipped: needs DATABASE_URL and REDIS_URL)" : ""}`, () => {
  let proxy: Proxy;
  let t: TestApp;
  let api: Api;
  let key: string;
  let cached: ApiLink;
  let uncached: ApiLink;
  let counted: ApiLink;

  beforeAll(async () => {
    proxy = await startProxy(targetOf(databaseUrl!));
    const db = createNodePostgresDatabase({
      url: proxy.via(databaseUrl!),
      poolMax: 4,
      statementTimeoutMs: 2_000,
    });
    t = await startTestApp({ ...roomyLimits, LINK_CACHE_LOCAL_TTL_SECONDS: "1" }, { db });
    key = (await tenant(t, "acme")).key;
    api = apiAs(t, key);
    cached = await api.create({ url: "https://example.com/cached" });
    uncached = await api.create({ url: "https://example.com/uncached" });
    counted = await api.create({ url: "https://example.com/counted", maxClicks: 100 });
    for (const link of [cached, counted]) expect((await t.app.request(`/${link.slug}`)).status).toBe(302);
    expect((await api.get("/links")).status).toBe(200);
    await proxy.cut();
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(() => {
    const unhandled = t.logs.filter((line) => line.includes("unhandled error"));
    expect(unhandled, "every Postgres failure is mapped, none reaches the generic 500 path").toEqual([]);
  });

  it("still redirects a cached link: from the local tier, then from Redis", async () => {
    const now = await t.app.request(`/${cached.slug}`);
    expect([now.status, now.headers.get("location")]).toEqual([302, cached.url]);
    await sleep(1_100);
    const fromRedis = await t.app.request(`/${cached.slug}`);
    expect([fromRedis.status, fromRedis.headers.get("location")]).toEqual([302, cached.url]);
    expect((await t.app.request(`/${cached.slug}+`)).status).toBe(200);
  });

  it("answers an uncached link with 503 and Retry-After, never 500, leaking nothing", async () => {
    for (const path of [
      `/${uncached.slug}`,
      `/${uncached.slug}+`,
      `/never-${crypto.randomUUID().slice(0, 8)}`,
    ]) {
      const res = await t.app.request(path);
      const problem = await expectProblem(res, 503);
      expect(problem.code).toBe("DEPENDENCY_UNAVAILABLE");
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(JSON.stringify(problem)).not.toMatch(leak);
    }
  });

  it("answers a cached link that needs Postgres to count its click (maxClicks) with 503, not 500", async () => {
    // A human visit (browser UA): only those consume a click, so only those need Postgres.
    const res = await t.app.request(`/${counted.slug}`, {
      headers: { "User-Agent": "Mozilla/5.0 Firefox/130.0" },
    });
    await expectProblem(res, 503);
    expect(res.headers.get("retry-after")).toBeTruthy();
    // HEAD does not count, so it needs no Postgres.
    expect((await t.app.request(`/${counted.slug}`, { method: "HEAD" })).status).toBe(302);
  });

  it("answers API calls with a 503 problem + Retry-After, without internals", async () => {
    const unknownKey = (await import("../../src/auth/api-key-format")).generateApiKey();
    const calls: [string, () => Promise<Response>][] = [
      ["list", () => api.get("/links")],
      ["get", () => api.get(`/links/${cached.id}`)],
      ["create", () => api.post("/links", { url: "https://example.com/new" })],
      [
        "create, idempotent",
        () => api.post("/links", { url: "https://example.com/i" }, { "Idempotency-Key": "k1" }),
      ],
      ["patch", () => api.patch(`/links/${cached.id}`, { title: "x" })],
      ["delete", () => api.delete(`/links/${uncached.id}`)],
      ["qr", () => api.get(`/links/${cached.id}/qr`)],
      ["keys", () => api.get("/keys")],
      ["uncached key", () => apiAs(t, unknownKey).get("/links")],
    ];
    for (const [label, call] of calls) {
      const res = await call();
      const text = await res.text();
      expect(res.status, `${label}: ${text}`).toBe(503);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.headers.get("retry-after"), label).toBeTruthy();
      expect(JSON.parse(text).code, label).toBe("DEPENDENCY_UNAVAILABLE");
      expect(text, label).not.toMatch(leak);
      expect(text, label).not.toContain(key);
    }
  });

  it("reports /readyz 503 unavailable, naming postgres", async () => {
    const res = await t.app.request("/readyz");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: "unavailable", failed: ["postgres"] });
  });
});
