import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Cache } from "../../src/platform/cache/cache";
import type { Database } from "../../src/platform/db/database";
import { createNodePostgresDatabase } from "../../src/platform/db/node-postgres-database";
import { apiAs, expectProblem, roomyLimits, type Tenant, tenant, uniqueSlug } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";
import { exchange, testJwtSecret, tokenFor } from "../support/tokens";
import { untouchable } from "../support/untouchable";

describe("a token is verified without Postgres or Redis", () => {
  const uses: string[] = [];
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(
      { ...roomyLimits, JWT_SECRET: testJwtSecret },
      {
        db: untouchable<Database>("db", uses, { close: async () => {} }),
        cache: untouchable<Cache>("cache", uses, { kind: "redis-tcp", close: async () => {} }),
      },
    );
  });
  afterAll(() => t?.close());

  it("authenticates, checks scopes and validates with zero database or cache calls", async () => {
    const issued = await t.services.tokens.issue({
      workspaceId: randomUUID(),
      keyId: randomUUID(),
      scopes: ["links:read", "links:write"],
      credential: "api-key",
    });
    if (!issued.ok) throw new Error(issued.reason);
    const api = apiAs(t, issued.token);
    // Each answer comes after authentication succeeded: a scope refusal, a validation error…
    await expectProblem(await api.get("/keys"), 403);
    await expectProblem(await api.get(`/links/${randomUUID()}/stats`), 403);
    await expectProblem(await api.post("/links", { url: "not a url" }), 400, "body.url");
    await expectProblem(await api.get("/links?limit=0"), 400, "query.limit");
    await expectProblem(await exchange(t, issued.token), 403);
    // …and a refused token is refused by signature alone.
    await expectProblem(await apiAs(t, `${issued.token.slice(0, -2)}AA`).get("/links"), 401);
    expect(uses).toEqual([]);
  });

  it("(the harness sees a use: an API key does reach the database)", async () => {
    const key = (await import("../../src/auth/api-key-format")).generateApiKey();
    // A well-formed key with a valid checksum goes to the key cache and then Postgres.
    await apiAs(t, key).get("/links");
    expect(uses.length).toBeGreaterThan(0);
  });
});

describe("tokens are confined to their workspace and obey their key's limits", () => {
  let t: TestApp;
  let a: Tenant;
  let b: Tenant;
  beforeAll(async () => {
    t = await startTestApp({ ...roomyLimits, JWT_SECRET: testJwtSecret });
    a = await tenant(t, "a");
    b = await tenant(t, "b");
  });
  afterAll(() => t?.close());

  it("a token of workspace B gets 404 for workspace A's link ids, exactly like unknown ids", async () => {
    const link = await apiAs(t, a.key).create({ url: "https://example.com/a-only", slug: uniqueSlug("iso") });
    const asB = apiAs(t, await tokenFor(t, b.key));
    const unknown = await (await asB.get(`/links/${randomUUID()}`)).json();
    for (const res of [
      await asB.get(`/links/${link.id}`),
      await asB.patch(`/links/${link.id}`, { url: "https://example.com/hijacked" }),
      await asB.get(`/links/${link.id}/stats?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z`),
      await asB.get(`/links/${link.id}/qr`),
      await asB.delete(`/links/${link.id}`),
    ]) {
      const problem = await expectProblem(res, 404);
      expect(problem.title).toBe(unknown.title);
    }
    const listed = await (await asB.get("/links")).json();
    expect(listed.data.map((l: { id: string }) => l.id)).not.toContain(link.id);
    // Untouched: A still sees its link as it was.
    expect((await (await apiAs(t, a.key).get(`/links/${link.id}`)).json()).url).toBe(
      "https://example.com/a-only",
    );
  });

  it("honours the documented revocation bound: the key stops at once, its tokens only at their exp", async () => {
    const { key, record } = await t.services.apiKeys.create(a.workspaceId, {
      name: "doomed",
      scopes: ["links:read"],
    });
    const token = await tokenFor(t, key, { ttlSeconds: 60 });
    await t.services.apiKeys.revoke(a.workspaceId, record.id);
    await expectProblem(await apiAs(t, key).get("/links"), 401);
    await expectProblem(await exchange(t, key), 401);
    expect((await apiAs(t, token).get("/links")).status).toBe(200);
  });

  it("counts a token's calls against its key's rate limit", async () => {
    const limited = await startTestApp({
      ...roomyLimits,
      RATE_LIMIT_API_READ: "3/60s",
      JWT_SECRET: testJwtSecret,
    });
    try {
      // A workspace of its own: with REDIS_URL the counters outlive this app, keyed by key id.
      const c = await tenant(limited, `limited-${randomUUID()}`);
      const token = await tokenFor(limited, c.key);
      expect((await apiAs(limited, c.key).get("/links")).status).toBe(200);
      expect((await apiAs(limited, token).get("/links")).status).toBe(200);
      expect((await apiAs(limited, c.key).get("/links")).status).toBe(200);
      await expectProblem(await apiAs(limited, token).get("/links"), 429);
    } finally {
      await limited.close();
    }
  });
});

describe("tokens never reach logs or problem bodies", () => {
  it("whatever happens: exchange, use, refusals, a database that is down", async () => {
    const t = await startTestApp({ ...roomyLimits, JWT_SECRET: testJwtSecret });
    const down = await startTestApp(
      { ...roomyLimits, JWT_SECRET: testJwtSecret },
      {
        db: createNodePostgresDatabase({
          url: "postgres://edgelink@127.0.0.1:1/x",
          poolMax: 1,
          statementTimeoutMs: 1000,
        }),
      },
    );
    try {
      const acme = await tenant(t, "acme");
      const token = await tokenFor(t, acme.key);
      const secrets = [token, token.split(".")[2]!, testJwtSecret];
      const bodies: string[] = [];
      const record = async (res: Response) => bodies.push(await res.text());
      await record(await apiAs(t, token).get("/links"));
      await record(await exchange(t, token));
      await record(await apiAs(t, `${token}x`).get("/links"));
      await record(await apiAs(t, token).get("/keys"));
      const failing = await apiAs(down, token).get("/links");
      expect(failing.status).toBe(503);
      await record(failing);
      await t.services.apiKeys.idle();
      const logs = [...t.logs, ...down.logs].join("\n");
      expect(logs).toContain("dependency unavailable");
      for (const secret of secrets) {
        expect(logs).not.toContain(secret);
        for (const body of bodies) expect(body).not.toContain(secret);
      }
    } finally {
      await Promise.all([t.close(), down.close()]);
    }
  });
});
