import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { links } from "../../db/schema";
import {
  type Api,
  type ApiLink,
  apiAs,
  expectProblem,
  keyFor,
  roomyLimits,
  type Tenant,
  tenant,
  uniqueSlug,
} from "../support/api";
import { startTestApp, type TestApp } from "../support/app";

/** Every /links/:id route, as (label, request) pairs for one id. */
const idRoutes = (api: Api, id: string): [string, () => Promise<Response>][] => [
  ["GET /links/:id", () => api.get(`/links/${id}`)],
  ["PATCH /links/:id", () => api.patch(`/links/${id}`, { title: "taken over" })],
  ["PATCH /links/:id (slug)", () => api.patch(`/links/${id}`, { slug: uniqueSlug("hijack") })],
  ["PATCH /links/:id (url)", () => api.patch(`/links/${id}`, { url: "https://attacker.example/" })],
  ["GET /links/:id/qr", () => api.get(`/links/${id}/qr`)],
  ["GET /links/:id/qr png", () => api.get(`/links/${id}/qr?format=png`)],
  ["DELETE /links/:id", () => api.delete(`/links/${id}`)],
];

/** Every links route with a request that would succeed for a key holding the scope. */
const everyRoute = (
  api: Api,
  id: string,
): [string, "links:read" | "links:write", () => Promise<Response>][] => [
  ["POST /links", "links:write", () => api.post("/links", { url: "https://example.com/" })],
  ["GET /links", "links:read", () => api.get("/links")],
  ["GET /links?q", "links:read", () => api.get("/links?q=x&tag=y")],
  ["GET /links/:id", "links:read", () => api.get(`/links/${id}`)],
  ["PATCH /links/:id", "links:write", () => api.patch(`/links/${id}`, { title: "x" })],
  ["DELETE /links/:id", "links:write", () => api.delete(`/links/${id}`)],
  ["GET /links/:id/qr", "links:read", () => api.get(`/links/${id}/qr`)],
];

describe("links are confined to their workspace", () => {
  let t: TestApp;
  let a: Tenant;
  let b: Tenant;
  let apiA: Api;
  let apiB: Api;
  let secret: ApiLink;

  beforeAll(async () => {
    t = await startTestApp({ ...roomyLimits });
    a = await tenant(t, "acme");
    b = await tenant(t, "globex");
    apiA = apiAs(t, a.key);
    apiB = apiAs(t, b.key);
    secret = await apiA.create({
      url: "https://acme.example/roadmap",
      slug: uniqueSlug("acme-secret"),
      title: "Acme confidential roadmap",
      tags: ["confidential"],
    });
    await apiB.create({ url: "https://globex.example/", title: "Globex own", tags: ["confidential"] });
  });
  afterAll(() => t?.close());

  it("answers B's requests for A's link on every /links/:id route exactly like an unknown id: 404", async () => {
    const unknown = crypto.randomUUID();
    const foreign = idRoutes(apiB, secret.id);
    const nowhere = idRoutes(apiB, unknown);
    for (const [i, [label, request]] of foreign.entries()) {
      const res = await request();
      const problem = await expectProblem(res, 404);
      const none = await expectProblem(await nowhere[i]![1](), 404);
      expect(problem.code, label).toBe("NOT_FOUND");
      // Same title, same detail: nothing distinguishes "someone else's" from "no such link".
      expect([problem.title, problem.detail], label).toEqual([none.title, none.detail]);
      const text = JSON.stringify(problem);
      for (const leak of [secret.slug, secret.url, secret.title!, a.workspaceId])
        expect(text).not.toContain(leak);
    }
    // A's link is untouched and still redirects where A wants.
    const mine = await (await apiA.get(`/links/${secret.id}`)).json();
    expect(mine).toEqual(secret);
    expect((await t.app.request(`/${secret.slug}`)).headers.get("location")).toBe(
      "https://acme.example/roadmap",
    );
  });

  it("never lists or finds A's links for B, by page, tag or q", async () => {
    const pages: ApiLink[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: ApiLink[]; nextCursor: string | null } = await (
        await apiB.get(`/links?limit=1${cursor ? `&cursor=${cursor}` : ""}`)
      ).json();
      pages.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages.map((l) => l.title)).toEqual(["Globex own"]);
    for (const query of [
      "tag=confidential",
      `q=${secret.slug}`,
      "q=roadmap",
      "q=acme",
      "q=confidential",
      `q=${encodeURIComponent(secret.url)}`,
    ]) {
      const { data } = await (await apiB.get(`/links?${query}`)).json();
      expect(
        data.map((l: ApiLink) => l.id),
        query,
      ).not.toContain(secret.id);
      expect(JSON.stringify(data), query).not.toContain("Acme");
    }
    // A's own search does find it, so the queries above were real ones.
    expect((await (await apiA.get("/links?q=roadmap")).json()).data.map((l: ApiLink) => l.id)).toEqual([
      secret.id,
    ]);
  });

  it("keeps a cursor from A's pages meaningless for B", async () => {
    await apiA.create({ url: "https://acme.example/2" });
    const pageA = await (await apiA.get("/links?limit=1")).json();
    expect(pageA.nextCursor).toBeTruthy();
    const { data } = await (await apiB.get(`/links?cursor=${pageA.nextCursor}`)).json();
    expect(JSON.stringify(data)).not.toContain("acme.example");
  });

  it("scopes Idempotency-Keys per workspace: B reusing A's key never gets A's response", async () => {
    const key = crypto.randomUUID();
    const body = { url: "https://example.com/same-body", title: uniqueSlug("idem") };
    const first = await apiA.post("/links", body, { "Idempotency-Key": key });
    expect(first.status).toBe(201);
    const created = (await first.json()) as ApiLink;
    const other = await apiB.post("/links", body, { "Idempotency-Key": key });
    expect(other.status).toBe(201);
    expect(other.headers.get("idempotent-replayed")).toBeNull();
    expect(((await other.json()) as ApiLink).id).not.toBe(created.id);
  });
});

describe("scopes, keys and secrets", () => {
  let t: TestApp;
  let owner: Tenant;
  let link: ApiLink;
  let readOnly: string;
  let writeOnly: string;
  let analyticsOnly: string;

  beforeAll(async () => {
    t = await startTestApp({ ...roomyLimits });
    owner = await tenant(t, "acme");
    link = await apiAs(t, owner.key).create({ url: "https://example.com/scoped", password: "hunter2-link" });
    readOnly = (await keyFor(t, owner.workspaceId, ["links:read"])).key;
    writeOnly = (await keyFor(t, owner.workspaceId, ["links:write"])).key;
    analyticsOnly = (await keyFor(t, owner.workspaceId, ["analytics:read", "keys:admin"])).key;
  });
  afterAll(() => t?.close());

  it("answers 403 naming the missing scope on every route, before validating or looking anything up", async () => {
    const cases: [string, string, string][] = [];
    for (const [key, held] of [
      [readOnly, ["links:read"]],
      [writeOnly, ["links:write"]],
      [analyticsOnly, []],
    ] as const) {
      for (const [label, scope, request] of everyRoute(apiAs(t, key), link.id)) {
        if ((held as readonly string[]).includes(scope)) continue;
        const res = await request();
        const problem = await expectProblem(res, 403);
        expect(problem.code, label).toBe("FORBIDDEN");
        expect(problem.detail, label).toContain(`"${scope}"`);
        expect(res.headers.get("www-authenticate"), label).toContain(`scope="${scope}"`);
        cases.push([label, scope, String(held)]);
      }
    }
    expect(cases.length).toBe(3 + 4 + 7);
    // An invalid body or a foreign id still gets 403 first: no scope, no information.
    const ro = apiAs(t, readOnly);
    expect((await ro.post("/links", { url: "javascript:x" })).status).toBe(403);
    expect((await ro.patch(`/links/${crypto.randomUUID()}`, { title: "x" })).status).toBe(403);
    expect((await apiAs(t, writeOnly).get("/links/not-a-uuid")).status).toBe(403);
    // Nothing changed.
    expect((await apiAs(t, owner.key).get(`/links/${link.id}`)).status).toBe(200);
  });

  it("lets each scope do exactly its own part", async () => {
    const ro = apiAs(t, readOnly);
    const wo = apiAs(t, writeOnly);
    expect((await ro.get(`/links/${link.id}`)).status).toBe(200);
    expect((await ro.get(`/links/${link.id}/qr`)).status).toBe(200);
    const created = await wo.post("/links", { url: "https://example.com/w" });
    expect(created.status).toBe(201);
    const { id } = await created.json();
    expect((await wo.patch(`/links/${id}`, { title: "w" })).status).toBe(200);
    expect((await wo.delete(`/links/${id}`)).status).toBe(204);
  });

  it("answers 401 with WWW-Authenticate to no key, a malformed one, a forged one and a revoked one", async () => {
    const revoked = await keyFor(t, owner.workspaceId, ["links:read", "links:write"]);
    await t.services.apiKeys.revoke(owner.workspaceId, revoked.keyId);
    const forged = `elk_${"A".repeat(38)}`;
    const headerCases: [string, Record<string, string>][] = [
      ["no header", {}],
      ["empty bearer", { Authorization: "Bearer " }],
      ["basic auth", { Authorization: `Basic ${btoa("user:pass")}` }],
      ["not a key", { Authorization: "Bearer hello" }],
      ["forged", { Authorization: `Bearer ${forged}` }],
      ["revoked", { Authorization: `Bearer ${revoked.key}` }],
      ["key as a query-ish header", { "X-Api-Key": owner.key }],
    ];
    const anonymous = apiAs(t, undefined);
    const routes: [string, string, unknown?][] = [
      ["POST", "/links", { url: "https://example.com/" }],
      ["GET", "/links"],
      ["GET", "/links?q=x"],
      ["GET", `/links/${link.id}`],
      ["PATCH", `/links/${link.id}`, { title: "x" }],
      ["DELETE", `/links/${link.id}`],
      ["GET", `/links/${link.id}/qr`],
    ];
    for (const [label, headers] of headerCases) {
      for (const [method, path, body] of routes) {
        const res = await anonymous.send(method, path, body, headers);
        const problem = await expectProblem(res, 401);
        expect(problem.code, `${label}: ${method} ${path}`).toBe("UNAUTHORIZED");
        expect(res.headers.get("www-authenticate"), `${label}: ${method} ${path}`).toMatch(
          /^Bearer realm="edgelink"/,
        );
      }
    }
    expect((await apiAs(t, owner.key).get(`/links/${link.id}`)).status).toBe(200);
  });

  it("never puts a link's password or its hash in an API response, the preview or the form", async () => {
    const api = apiAs(t, owner.key);
    const [row] = await t.services.db.primary.select().from(links).where(eq(links.id, link.id));
    const hash = row!.passwordHash!;
    expect(hash).toMatch(/^pbkdf2-sha256\$/);
    const [, , salt, digest] = hash.split("$");
    const patched = await api.patch(`/links/${link.id}`, {
      title: "with password",
      password: "hunter3-link",
    });
    const [after] = await t.services.db.primary.select().from(links).where(eq(links.id, link.id));
    const responses = [
      await api.post("/links", { url: "https://example.com/p", password: "hunter4-link" }),
      await api.get(`/links/${link.id}`),
      await api.get("/links"),
      await api.get("/links?q=with"),
      patched,
      await t.app.request(`/${link.slug}+`),
      await t.app.request(`/${link.slug}`),
      await t.app.request(`/${link.slug}`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: "password=wrong",
      }),
    ];
    for (const res of responses) {
      const text = await res.text();
      for (const needle of [
        "hunter2-link",
        "hunter3-link",
        "hunter4-link",
        "pbkdf2",
        salt!,
        digest!,
        after!.passwordHash!,
      ]) {
        expect(text, `${res.status} ${text.slice(0, 200)}`).not.toContain(needle);
      }
      expect(text).not.toMatch(/passwordHash|password_hash/);
    }
  });

  it("never shows an API key's secret except in the response that created it, nor writes it to a log", async () => {
    const api = apiAs(t, owner.key);
    const createdRes = await api.post("/keys", { name: "ci", scopes: ["links:read", "links:write"] });
    const fresh = (await createdRes.json()).key as string;
    expect(fresh).toMatch(/^elk_/);
    const client = apiAs(t, fresh);
    const texts: string[] = [];
    for (const res of [
      await client.post("/links", { url: "https://example.com/k" }),
      await client.post("/links", { url: "javascript:x" }),
      await client.get("/links"),
      await client.get(`/links/${crypto.randomUUID()}`),
      await client.get("/links/not-a-uuid"),
      await client.post("/links", "{broken"),
      await apiAs(t, `${fresh.slice(0, -1)}${fresh.endsWith("A") ? "B" : "A"}`).get("/links"),
      await api.get("/keys"),
    ]) {
      texts.push(await res.text());
    }
    await t.services.apiKeys.revoke(owner.workspaceId, (await (await api.get("/keys")).json()).data[0].id);
    texts.push(await (await client.get("/links")).text());
    await t.services.apiKeys.idle();
    for (const secret of [fresh, owner.key, readOnly, writeOnly, fresh.slice(12)]) {
      for (const text of texts) expect(text).not.toContain(secret);
      expect(t.logs.join("\n")).not.toContain(secret);
    }
  });
});
