import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiKeys } from "../../db/schema";
import { generateApiKey, hashApiKey } from "../../src/auth/api-key-format";
import { scopes } from "../../src/auth/scopes";
import type { Cache } from "../../src/platform/cache/cache";
import type { Database } from "../../src/platform/db/database";
import { createNodePostgresDatabase } from "../../src/platform/db/node-postgres-database";
import { startTestApp, type TestApp } from "../support/app";
import { untouchable } from "../support/untouchable";

const as = (t: TestApp, key: string, path: string, init: RequestInit = {}) =>
  t.app.request(path, { ...init, headers: { Authorization: `Bearer ${key}`, ...init.headers } });

describe("forged and mistyped keys never reach Postgres or Redis", () => {
  const uses: string[] = [];
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(
      {},
      {
        db: untouchable<Database>("db", uses, { close: async () => {} }),
        cache: untouchable<Cache>("cache", uses, { kind: "redis-tcp", close: async () => {} }),
      },
    );
  });
  afterAll(() => t?.close());

  it("refuses them with a 401 and zero database or cache calls", async () => {
    const real = generateApiKey();
    const flipped = `${real.slice(0, 20)}${real[20] === "Z" ? "Y" : "Z"}${real.slice(21)}`;
    const truncated = real.slice(0, -1);
    const otherProduct = `ghp_${real.slice(4)}`;
    const invented = `elk_${"A".repeat(38)}`;
    for (const token of [flipped, truncated, otherProduct, invented, "elk_", "x".repeat(4096)]) {
      const res = await as(t, token, "/api/v1/keys");
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain("Bearer");
    }
    expect(uses).toEqual([]);
  });
});

describe("API keys are confined to their workspace and their secrets stay secret", () => {
  let t: TestApp;
  let a: { workspaceId: string; key: string; keyId: string };
  let b: { workspaceId: string; key: string; keyId: string };
  const workspaceWithAdmin = async (name: string) => {
    const workspaceId = (await t.services.workspaces.create({ name })).id;
    const { key, record } = await t.services.apiKeys.create(workspaceId, {
      name: "admin",
      scopes: [...scopes],
    });
    return { workspaceId, key, keyId: record.id };
  };
  beforeAll(async () => {
    t = await startTestApp();
    a = await workspaceWithAdmin("a");
    b = await workspaceWithAdmin("b");
  });
  afterAll(() => t?.close());

  it("never shows, fetches or revokes another workspace's keys: their ids answer 404 like unknown ones", async () => {
    const listed = await (await as(t, b.key, "/api/v1/keys")).json();
    expect(listed.data.map((k: { id: string }) => k.id)).toEqual([b.keyId]);
    const foreign = await as(t, b.key, `/api/v1/keys/${a.keyId}`, { method: "DELETE" });
    expect(foreign.status).toBe(404);
    const unknown = await as(t, b.key, `/api/v1/keys/${crypto.randomUUID()}`, { method: "DELETE" });
    expect((await foreign.json()).title).toBe((await unknown.json()).title);
    expect((await as(t, b.key, `/api/v1/keys/${a.keyId}`)).status).toBe(404);
    // A's key still works: B's attempt changed nothing.
    expect((await as(t, a.key, "/api/v1/keys")).status).toBe(200);
  });

  it("stores only the SHA-256 of the key and a 12-character prefix", async () => {
    const [row] = await t.services.db.primary.select().from(apiKeys).where(eq(apiKeys.id, a.keyId));
    expect(row!.secretHash).toBe(await hashApiKey(a.key));
    expect(row!.prefix).toBe(a.key.slice(0, 12));
    expect(JSON.stringify(row)).not.toContain(a.key.slice(12));
  });

  it("lists and fetches keys without their hash or secret", async () => {
    const created = await (
      await as(t, a.key, "/api/v1/keys", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: "ci", scopes: ["links:read"] }),
      })
    ).json();
    const hashes = await Promise.all([a.key, created.key].map(hashApiKey));
    for (const res of [
      await as(t, a.key, "/api/v1/keys"),
      await as(t, a.key, `/api/v1/keys/${created.id}`),
    ]) {
      const text = await res.text();
      for (const secret of [a.key, created.key, ...hashes]) expect(text).not.toContain(secret);
      expect(text).not.toMatch(/secret|hash|"key"/i);
    }
    const { data } = await (await as(t, a.key, "/api/v1/keys")).json();
    expect(Object.keys(data[0]).sort()).toEqual(
      ["createdAt", "expiresAt", "id", "lastUsedAt", "name", "prefix", "revokedAt", "scopes"].sort(),
    );
  });

  it("keeps keys out of logs and problem bodies, whatever happens", async () => {
    const doomed = await t.services.apiKeys.create(a.workspaceId, { name: "doomed", scopes: ["keys:admin"] });
    await as(t, doomed.key, "/api/v1/keys");
    await as(t, a.key, `/api/v1/keys/${doomed.record.id}`, { method: "DELETE" });
    const refused = await as(t, doomed.key, "/api/v1/keys");
    expect(await refused.text()).not.toContain(doomed.key);
    await as(t, `${doomed.key.slice(0, -1)}0`, "/api/v1/keys");
    await t.services.apiKeys.idle();
    const logs = t.logs.join("\n");
    for (const secret of [a.key, b.key, doomed.key, doomed.key.slice(12, 36), await hashApiKey(doomed.key)]) {
      expect(logs).not.toContain(secret);
    }
  });
});

describe("a failing database does not put key material in the logs", () => {
  it("answers 503 (Postgres unreachable) and logs the failure without the key or its hash", async () => {
    const db = createNodePostgresDatabase({
      url: "postgres://edgelink@127.0.0.1:1/x",
      poolMax: 1,
      statementTimeoutMs: 1000,
    });
    const t = await startTestApp({}, { db });
    try {
      const key = generateApiKey();
      const res = await as(t, key, "/api/v1/keys");
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      const logs = t.logs.join("\n");
      expect(logs).toContain("dependency unavailable");
      expect(logs).not.toContain(key);
      expect(logs).not.toContain(await hashApiKey(key));
    } finally {
      await t.close();
    }
  });
});
