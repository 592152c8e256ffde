import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey } from "../../src/auth/api-key-format";
import { type Scope, scopes } from "../../src/auth/scopes";
import { startTestApp, type TestApp } from "../support/app";

describe("API key errors are problem+json naming what is wrong", () => {
  let t: TestApp;
  let workspaceId: string;
  let admin: string;
  const keyWith = async (granted: Scope[], expiresAt?: Date) =>
    (await t.services.apiKeys.create(workspaceId, { name: "k", scopes: granted, expiresAt })).key;
  const as = (key: string, path: string, init: RequestInit = {}) =>
    t.app.request(path, {
      ...init,
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...init.headers },
    });
  const post = (body: unknown, key = admin) =>
    as(key, "/api/v1/keys", { method: "POST", body: JSON.stringify(body) });

  beforeAll(async () => {
    t = await startTestApp();
    workspaceId = (await t.services.workspaces.create({ name: "acme" })).id;
    admin = await keyWith([...scopes]);
  });
  afterAll(() => t?.close());

  it("answers 401 with WWW-Authenticate when the credentials are missing or not a bearer token", async () => {
    for (const authorization of [
      undefined,
      "",
      "Basic dXNlcjpwYXNz",
      "Bearer",
      "Bearer ",
      "Bearer a b",
      admin,
    ]) {
      const headers: Record<string, string> =
        authorization === undefined ? {} : { Authorization: authorization };
      const res = await t.app.request("/api/v1/keys", { headers });
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="edgelink"');
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(await res.json()).toMatchObject({ code: "UNAUTHORIZED", status: 401 });
    }
  });

  it("answers unknown, revoked, expired and mistyped keys with one and the same 401", async () => {
    const revoked = await t.services.apiKeys.create(workspaceId, { name: "r", scopes: ["keys:admin"] });
    await t.services.apiKeys.revoke(workspaceId, revoked.record.id);
    const expired = await keyWith(["keys:admin"], new Date(Date.now() - 1_000));
    const typo = `${admin.slice(0, 10)}${admin[10] === "x" ? "y" : "x"}${admin.slice(11)}`;
    const bodies = new Set<string>();
    for (const key of [generateApiKey(), revoked.key, expired, typo, "not-a-key"]) {
      const res = await as(key, "/api/v1/keys");
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="edgelink", error="invalid_token"');
      const { detail, code } = await res.json();
      bodies.add(JSON.stringify({ detail, code }));
    }
    expect([...bodies]).toEqual([
      JSON.stringify({ detail: "The API key is invalid, expired or revoked.", code: "UNAUTHORIZED" }),
    ]);
  });

  it("refuses a key that expires while its record is cached", async () => {
    const key = await keyWith(["keys:admin"], new Date(Date.now() + 800));
    expect((await as(key, "/api/v1/keys")).status).toBe(200);
    await new Promise((done) => setTimeout(done, 900));
    expect((await as(key, "/api/v1/keys")).status).toBe(401);
  });

  it("answers 403 naming the missing scope, before looking at the body", async () => {
    const reader = await keyWith(["links:read", "links:write", "analytics:read"]);
    for (const [method, path] of [
      ["GET", "/api/v1/keys"],
      ["POST", "/api/v1/keys"],
      ["DELETE", "/api/v1/keys/not-even-a-uuid"],
    ] as const) {
      const res = await as(reader, path, { method, body: method === "POST" ? "{" : undefined });
      expect(res.status, `${method} ${path}`).toBe(403);
      const body = await res.json();
      expect(body).toMatchObject({ code: "FORBIDDEN" });
      expect(body.detail).toContain('"keys:admin"');
      expect(res.headers.get("www-authenticate")).toContain('error="insufficient_scope", scope="keys:admin"');
    }
  });

  it("does not let a key grant scopes it does not hold", async () => {
    const keyAdmin = await keyWith(["keys:admin", "links:read"]);
    const res = await post(
      { name: "wider", scopes: ["links:read", "links:write", "analytics:read"] },
      keyAdmin,
    );
    expect(res.status).toBe(403);
    expect((await res.json()).detail).toContain("links:write, analytics:read");
    expect((await post({ name: "same", scopes: ["links:read"] }, keyAdmin)).status).toBe(201);
  });

  it("answers 400 naming each invalid field of the body", async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const cases: [unknown, string][] = [
      [{ scopes: ["links:read"] }, "body.name"],
      [{ name: "", scopes: ["links:read"] }, "body.name"],
      [{ name: "   ", scopes: ["links:read"] }, "body.name"],
      [{ name: "x".repeat(101), scopes: ["links:read"] }, "body.name"],
      [{ name: "a" }, "body.scopes"],
      [{ name: "a", scopes: [] }, "body.scopes"],
      [{ name: "a", scopes: "links:read" }, "body.scopes"],
      [{ name: "a", scopes: ["links:read", "links:read"] }, "body.scopes"],
      [{ name: "a", scopes: ["links:read", "links:delete"] }, "body.scopes.1"],
      [{ name: "a", scopes: ["links:read"], expiresAt: "2001-01-01T00:00:00Z" }, "body.expiresAt"],
      [{ name: "a", scopes: ["links:read"], expiresAt: "tomorrow" }, "body.expiresAt"],
      [{ name: "a", scopes: ["links:read"], expiresAt: future, scope: "typo" }, "body.scope"],
    ];
    for (const [body, field] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const problem = await res.json();
      expect(problem.code).toBe("VALIDATION_FAILED");
      expect(
        problem.errors.map((e: { field: string }) => e.field),
        JSON.stringify(body),
      ).toContain(field);
    }
  });

  it("answers 400 for a body that is not JSON and 415 for another media type", async () => {
    const broken = await as(admin, "/api/v1/keys", { method: "POST", body: "{name:" });
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({
      code: "VALIDATION_FAILED",
      errors: [{ field: "body", message: "is not valid JSON" }],
    });
    const text = await as(admin, "/api/v1/keys", {
      method: "POST",
      body: "name=a",
      headers: { "Content-Type": "text/plain" },
    });
    expect(text.status).toBe(415);
  });

  it("validates key ids and answers 404 for unknown ones", async () => {
    const bad = await as(admin, "/api/v1/keys/123", { method: "DELETE" });
    expect(bad.status).toBe(400);
    expect((await bad.json()).errors[0].field).toBe("param.id");
    const unknown = "7c1f7d59-2b7e-4f5e-9a53-2f4f1f0c0a11";
    expect((await as(admin, `/api/v1/keys/${unknown}`, { method: "DELETE" })).status).toBe(404);
    expect((await as(admin, `/api/v1/keys/${unknown}`)).status).toBe(404);
  });

  it("leaves paths no route serves to the 404 handler", async () => {
    const res = await t.app.request("/api/v1/nothing");
    expect(res.status).toBe(404);
    expect((await as(admin, "/api/v1/nothing")).status).toBe(404);
  });
});
