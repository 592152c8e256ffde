import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { apiKeyPattern } from "../../src/auth/api-key-format";
import { scopes } from "../../src/auth/scopes";
import { startTestApp, type TestApp } from "../support/app";

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

function as(t: TestApp, key: string, path: string, init: RequestInit = {}) {
  return t.app.request(path, {
    ...init,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...init.headers },
  });
}

describe("API keys: create, use, list, revoke", () => {
  let t: TestApp;
  let workspaceId: string;
  let admin: string;
  beforeAll(async () => {
    t = await startTestApp();
    workspaceId = (await t.services.workspaces.create({ name: "acme" })).id;
    admin = (await t.services.apiKeys.create(workspaceId, { name: "admin", scopes: [...scopes] })).key;
  });
  afterAll(() => t?.close());

  it("creates a key that is shown once, works at once, and is refused at once after revocation", async () => {
    const created = await as(t, admin, "/api/v1/keys", {
      method: "POST",
      body: JSON.stringify({ name: "deploy bot", scopes: ["keys:admin", "links:read"] }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const body = await created.json();
    expect(body).toMatchObject({
      name: "deploy bot",
      scopes: ["keys:admin", "links:read"],
      expiresAt: null,
      revokedAt: null,
      lastUsedAt: null,
    });
    expect(body.key).toMatch(new RegExp(`^${apiKeyPattern.source}$`));
    expect(body.prefix).toBe(body.key.slice(0, 12));
    expect(created.headers.get("location")).toBe(`/api/v1/keys/${body.id}`);

    const fetched = await as(t, body.key, `/api/v1/keys/${body.id}`);
    expect(fetched.status).toBe(200);
    const shown = await fetched.json();
    expect(shown).toMatchObject({ id: body.id, prefix: body.prefix });
    expect(shown).not.toHaveProperty("key");

    const list = await (await as(t, admin, "/api/v1/keys")).json();
    expect(list.data.map((k: { id: string }) => k.id)).toContain(body.id);
    expect(list.data[0].id).toBe(body.id); // newest first

    expect((await as(t, admin, `/api/v1/keys/${body.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await as(t, body.key, "/api/v1/keys")).status).toBe(401);
    // Revoking again is harmless and keeps the first revocation time.
    const first = (await (await as(t, admin, `/api/v1/keys/${body.id}`)).json()).revokedAt;
    expect(first).toEqual(expect.any(String));
    expect((await as(t, admin, `/api/v1/keys/${body.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await (await as(t, admin, `/api/v1/keys/${body.id}`)).json()).revokedAt).toBe(first);
  });

  it("accepts a future expiry and records when a key was last used", async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const res = await as(t, admin, "/api/v1/keys", {
      method: "POST",
      body: JSON.stringify({ name: "  temp  ", scopes: ["keys:admin"], expiresAt }),
    });
    expect(res.status).toBe(201);
    const { id, key, name, expiresAt: stored } = await res.json();
    expect(name).toBe("temp");
    expect(stored).toBe(expiresAt);
    expect((await as(t, key, "/api/v1/keys")).status).toBe(200);
    await t.services.apiKeys.idle();
    const used = await (await as(t, key, `/api/v1/keys/${id}`)).json();
    expect(Date.parse(used.lastUsedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("documents the key routes and the bearer scheme in /openapi.json", async () => {
    const doc = await (await t.app.request("/openapi.json")).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/api/v1/keys", "/api/v1/keys/{id}"]));
    expect(Object.keys(doc.paths["/api/v1/keys"])).toEqual(expect.arrayContaining(["get", "post"]));
    expect(doc.paths["/api/v1/keys/{id}"].delete.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.components.schemas.NewApiKey.required).toEqual(expect.arrayContaining(["name", "scopes"]));
  });
});

describe("revocation reaches a second instance within API_KEY_CACHE_TTL_SECONDS", () => {
  const ttlSeconds = 1;
  let first: TestApp;
  let second: TestApp;
  const sharesDatabase = Boolean(inject("testDatabaseUrl"));
  beforeAll(async () => {
    const env = { API_KEY_CACHE_TTL_SECONDS: String(ttlSeconds) };
    first = await startTestApp(env);
    // With a real Postgres the second instance has its own pool; on PGlite it shares the one database.
    second = await startTestApp(env, sharesDatabase ? {} : { db: first.services.db });
  });
  afterAll(async () => {
    if (sharesDatabase) await second?.close();
    else await second?.services.cache.close();
    await first?.close();
  });

  it("is refused on the revoking instance at once and on the other after the local TTL", async () => {
    const workspaceId = (await first.services.workspaces.create({ name: "two-instances" })).id;
    const admin = (await first.services.apiKeys.create(workspaceId, { name: "a", scopes: ["keys:admin"] }))
      .key;
    const victim = await first.services.apiKeys.create(workspaceId, { name: "v", scopes: ["keys:admin"] });

    // Warm both instances' caches with the live key.
    expect((await as(first, victim.key, "/api/v1/keys")).status).toBe(200);
    expect((await as(second, victim.key, "/api/v1/keys")).status).toBe(200);

    const revokedAt = Date.now();
    expect((await as(first, admin, `/api/v1/keys/${victim.record.id}`, { method: "DELETE" })).status).toBe(
      204,
    );
    expect((await as(first, victim.key, "/api/v1/keys")).status).toBe(401);

    await sleep(Math.max(0, revokedAt + ttlSeconds * 1000 + 100 - Date.now()));
    expect((await as(second, victim.key, "/api/v1/keys")).status).toBe(401);
    expect((await as(second, admin, "/api/v1/keys")).status).toBe(200);
  });
});
