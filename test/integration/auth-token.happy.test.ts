import { decode } from "hono/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiAs, roomyLimits, type Tenant, tenant, uniqueSlug } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";
import { exchange, testJwtSecret, tokenFor } from "../support/tokens";

describe("POST /api/v1/auth/token: an API key in, a short-lived token out", () => {
  let t: TestApp;
  let acme: Tenant;
  beforeAll(async () => {
    t = await startTestApp({ ...roomyLimits, JWT_SECRET: testJwtSecret });
    acme = await tenant(t, "acme");
  });
  afterAll(() => t?.close());

  it("answers 200 {token, tokenType, expiresAt, expiresIn, scopes} with Cache-Control: no-store", async () => {
    const before = Date.now();
    const res = await exchange(t, acme.key);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await res.json();
    expect(Object.keys(body).sort()).toEqual(["expiresAt", "expiresIn", "scopes", "token", "tokenType"]);
    expect(body.tokenType).toBe("Bearer");
    // Every scope of the key but keys:admin, which no token carries.
    expect(body.scopes).toEqual(["links:read", "links:write", "analytics:read"]);
    expect(body.expiresIn).toBe(900);
    const expiresAt = Date.parse(body.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 899_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 900_000);
    const { payload } = decode(body.token);
    expect(payload).toMatchObject({
      sub: acme.keyId,
      ws: acme.workspaceId,
      iss: "edgelink",
      aud: "edgelink-api",
    });
  });

  it("is accepted as the bearer credential of the management API: create, list and read links", async () => {
    const token = await tokenFor(t, acme.key);
    const api = apiAs(t, token);
    const slug = uniqueSlug("jwt");
    const created = await api.create({ url: "https://example.com/jwt", slug });
    expect(created.slug).toBe(slug);
    const list = await api.get(`/links?q=${slug}`);
    expect(list.status).toBe(200);
    expect((await list.json()).data.map((l: { id: string }) => l.id)).toEqual([created.id]);
    expect((await api.get(`/links/${created.id}`)).status).toBe(200);
    // The link is the workspace's, whichever credential made it: the key itself sees it too.
    expect((await apiAs(t, acme.key).get(`/links/${created.id}`)).status).toBe(200);
  });

  it("grants a requested subset of the key's scopes and no more", async () => {
    const res = await exchange(t, acme.key, { scopes: ["links:read"], ttlSeconds: 60 });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.scopes).toEqual(["links:read"]);
    expect(body.expiresIn).toBe(60);
    const reader = apiAs(t, body.token);
    expect((await reader.get("/links")).status).toBe(200);
    const write = await reader.post("/links", { url: "https://example.com/nope" });
    expect(write.status).toBe(403);
    expect((await write.json()).detail).toBe('This token lacks the "links:write" scope.');
  });

  it("accepts an empty JSON object, and no body at all, as the defaults", async () => {
    for (const res of [await exchange(t, acme.key, {}), await exchange(t, acme.key)]) {
      expect(res.status).toBe(200);
      expect((await res.json()).expiresIn).toBe(900);
    }
  });

  it("mints a new token each time, even for a repeated Idempotency-Key (none is stored)", async () => {
    const headers = { "Idempotency-Key": "token-twice" };
    const first = await (await exchange(t, acme.key, {}, headers)).json();
    const second = await (await exchange(t, acme.key, {}, headers)).json();
    expect(first.token).not.toBe(second.token);
  });

  it("is documented in /openapi.json with its request and response schemas", async () => {
    const doc = await (await t.app.request("/openapi.json")).json();
    const operation = doc.paths["/api/v1/auth/token"].post;
    expect(operation.security).toEqual([{ bearerAuth: [] }]);
    expect(operation.description).toMatch(/Revocation bound/);
    expect(Object.keys(operation.responses)).toEqual(["200", "400", "401", "403", "503"]);
    expect(doc.components.schemas.TokenRequest.properties.ttlSeconds.maximum).toBe(3600);
    expect(doc.components.schemas.Token.required).toContain("token");
  });
});
