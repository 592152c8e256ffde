import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Api, apiAs, roomyLimits, tenant } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const sharedServices = Boolean(inject("testDatabaseUrl") && process.env.REDIS_URL);

/**
 * Two app instances over one database and one shared cache: with DATABASE_URL and REDIS_URL, two
 * apps each with their own pool and Redis client (as two processes would have); without them, two
 * apps on one PGlite and one in-process cache standing in for Redis.
 */
describe(`a second instance (${sharedServices ? "real Postgres + Redis" : "shared PGlite + memory cache"})`, () => {
  const localTtlMs = 1_000;
  let one: TestApp;
  let two: TestApp;
  let api: Api;

  const counter = async (t: TestApp, name: string, labels = "") => {
    const text = await (await t.app.request("/metrics")).text();
    const line = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : ""} (\\d+)$`, "m");
    return Number(text.match(line)?.[1] ?? 0);
  };
  const locationAt = async (t: TestApp, slug: string) => {
    const res = await t.app.request(`/${slug}`);
    return res.status === 404 ? 404 : res.headers.get("location");
  };

  beforeAll(async () => {
    const env = { ...roomyLimits, LINK_CACHE_LOCAL_TTL_SECONDS: String(localTtlMs / 1000) };
    one = await startTestApp(env);
    two = sharedServices
      ? await startTestApp(env)
      : await startTestApp(env, { db: one.services.db, cache: one.services.cache });
    api = apiAs(one, (await tenant(one, "acme")).key);
  });
  afterAll(async () => {
    await two?.close();
    await one?.close();
  });

  it("sees an edit within LINK_CACHE_LOCAL_TTL_SECONDS, and then from Redis without asking Postgres", async () => {
    const link = await api.create({ url: "https://example.com/v1" });
    expect(await locationAt(two, link.slug)).toBe("https://example.com/v1");
    const editedAt = Date.now();
    expect((await api.patch(`/links/${link.id}`, { url: "https://example.com/v2" })).status).toBe(200);
    // The instance that made the edit sees it at once.
    expect(await locationAt(one, link.slug)).toBe("https://example.com/v2");
    // The other may serve its local copy, but never past the local TTL.
    const seenNow = await locationAt(two, link.slug);
    expect(["https://example.com/v1", "https://example.com/v2"]).toContain(seenNow);
    await sleep(Math.max(0, editedAt + localTtlMs + 50 - Date.now()));
    // Instance one refilled Redis with v2 when it served it; two now reads that, not Postgres.
    const loadsBefore = await counter(two, "link_cache_db_loads_total");
    const redisBefore = await counter(two, "link_cache_lookups_total", 'tier="redis"');
    expect(await locationAt(two, link.slug)).toBe("https://example.com/v2");
    expect(await counter(two, "link_cache_db_loads_total")).toBe(loadsBefore);
    expect(await counter(two, "link_cache_lookups_total", 'tier="redis"')).toBe(redisBefore + 1);
  });

  it("an edit nobody has read since is picked up from Postgres as soon as the local copy lapses", async () => {
    const link = await api.create({ url: "https://example.com/a" });
    expect(await locationAt(two, link.slug)).toBe("https://example.com/a");
    await api.patch(`/links/${link.id}`, { url: "https://example.com/b" });
    await sleep(localTtlMs + 50);
    // The edit cleared Redis: nothing stale is left to serve for the Redis TTL (an hour).
    expect(await locationAt(two, link.slug)).toBe("https://example.com/b");
  });

  it("a delete or a slug change reaches the other instance within the bound", async () => {
    const moved = await api.create({ url: "https://example.com/m" });
    const deleted = await api.create({ url: "https://example.com/d" });
    expect(await locationAt(two, moved.slug)).toBe("https://example.com/m");
    expect(await locationAt(two, deleted.slug)).toBe("https://example.com/d");
    const renamed = `${moved.slug}-new`;
    await api.patch(`/links/${moved.id}`, { slug: renamed });
    await api.delete(`/links/${deleted.id}`);
    await sleep(localTtlMs + 50);
    expect(await locationAt(two, moved.slug)).toBe(404);
    expect(await locationAt(two, renamed)).toBe("https://example.com/m");
    expect(await locationAt(two, deleted.slug)).toBe(404);
  });

  it("a link created after the other instance cached its absence is served there within the bound", async () => {
    const slug = `late-${crypto.randomUUID().slice(0, 8)}`;
    expect(await locationAt(two, slug)).toBe(404);
    await api.create({ url: "https://example.com/late", slug });
    await sleep(localTtlMs + 50);
    expect(await locationAt(two, slug)).toBe("https://example.com/late");
  });
});
