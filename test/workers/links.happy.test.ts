import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { displayPrefix, generateApiKey, hashApiKey } from "../../src/auth/api-key-format";
import { fetchWorker, leakPattern, problemOf, standinSql, withoutServices } from "./worker-client";

interface Link {
  id: string;
  slug: string;
  url: string;
  shortUrl: string;
  domain: string;
}

describe.skipIf(withoutServices)("links through the Worker entry (Neon and Upstash stand-ins)", () => {
  const run = randomUUID().slice(0, 8);
  let key: string;

  /** A call of the management API as the seeded key. */
  const api = (path: string, init: RequestInit = {}) =>
    fetchWorker(`/api/v1${path}`, {
      ...init,
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...init.headers },
    });
  const create = async (body: object, headers: Record<string, string> = {}) => {
    const response = await api("/links", { method: "POST", body: JSON.stringify(body), headers });
    return {
      response,
      link: response.status === 201 ? ((await response.clone().json()) as Link) : undefined,
    };
  };

  beforeAll(async () => {
    // A workspace and a key, inserted the way the admin CLI would: only the key's hash is stored.
    const sql = standinSql();
    key = generateApiKey();
    const [workspace] =
      await sql`insert into workspaces (name) values (${`workers links ${run}`}) returning id`;
    await sql`insert into api_keys (workspace_id, name, prefix, secret_hash, scopes)
              values (${workspace!.id}, 'workers', ${displayPrefix(key)}, ${await hashApiKey(key)},
                      ${["links:read", "links:write"]})`;
  });

  it("creates a link with a generated slug (201, Location) and redirects to it", async () => {
    const { response, link } = await create({ url: "https://example.com/edge?x=1" });
    expect(response.status).toBe(201);
    expect(response.headers.get("location")).toBe(`/api/v1/links/${link!.id}`);
    expect(link).toMatchObject({ domain: "edgelink.test", url: "https://example.com/edge?x=1" });
    expect(link!.slug).toMatch(/^[0-9A-Za-z]{7}$/);
    expect(link!.shortUrl).toBe(`https://edgelink.test/${link!.slug}`);

    const redirect = await fetchWorker(`/${link!.slug}`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("location")).toBe("https://example.com/edge?x=1");
    expect(redirect.headers.get("ratelimit-policy")).toContain('"redirect"');
  });

  it("creates with a custom slug, answers 409 when it is taken, and lists and gets it", async () => {
    const slug = `edge-${run}`;
    const { response, link } = await create({ url: "https://example.com/custom", slug, tags: ["edge"] });
    expect(response.status).toBe(201);
    expect((await create({ url: "https://example.com/other", slug })).response.status).toBe(409);
    const list = await (await api("/links?tag=edge&limit=5")).json();
    expect(list.data.map((l: Link) => l.id)).toContain(link!.id);
    expect((await api(`/links/${link!.id}`)).status).toBe(200);
  });

  it("an edit changes the redirect at once, a delete removes it", async () => {
    const { link } = await create({ url: "https://example.com/before" });
    expect((await fetchWorker(`/${link!.slug}`)).headers.get("location")).toBe("https://example.com/before");
    const patched = await api(`/links/${link!.id}`, {
      method: "PATCH",
      body: JSON.stringify({ url: "https://example.com/after", redirectStatus: 307 }),
    });
    expect(patched.status).toBe(200);
    const after = await fetchWorker(`/${link!.slug}`);
    expect([after.status, after.headers.get("location")]).toEqual([307, "https://example.com/after"]);
    expect((await api(`/links/${link!.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await fetchWorker(`/${link!.slug}`)).status).toBe(404);
  });

  it("answers an unknown slug with a 404 problem", async () => {
    const response = await fetchWorker(`/unknown-${run}`);
    const { body, text } = await problemOf(response);
    expect(response.status).toBe(404);
    expect(body.code).toBe("NOT_FOUND");
    expect(text).not.toMatch(leakPattern);
  });

  it("replays an Idempotency-Key retry instead of creating a second link", async () => {
    const idempotencyKey = randomUUID();
    const body = { url: "https://example.com/once", title: `once ${run}` };
    const first = await create(body, { "Idempotency-Key": idempotencyKey });
    const retry = await create(body, { "Idempotency-Key": idempotencyKey });
    expect(first.response.status).toBe(201);
    expect(retry.response.status).toBe(201);
    expect(retry.response.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.link!.id).toBe(first.link!.id);
    const found = await (await api(`/links?q=${encodeURIComponent(`once ${run}`)}`)).json();
    expect(found.data).toHaveLength(1);
  });

  it("refuses a request without a key with 401, and a bad body with a problem naming the field", async () => {
    const anonymous = await fetchWorker("/api/v1/links");
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toContain("Bearer");
    const bad = await create({ url: "javascript:alert(1)" });
    const { body } = await problemOf(bad.response);
    expect(bad.response.status).toBe(400);
    expect(body.errors?.[0]?.field).toBe("body.url");
  });

  it("answers API calls with 503 + Retry-After when the database cannot be reached (Neon fetch fails)", async () => {
    const response = await fetchWorker(
      "/api/v1/links",
      { headers: { Authorization: `Bearer ${generateApiKey()}` } },
      { NEON_FETCH_ENDPOINT: "http://127.0.0.1:1/sql" },
    );
    const { body, text } = await problemOf(response);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBeTruthy();
    expect(body.code).toBe("DEPENDENCY_UNAVAILABLE");
    expect(text).not.toMatch(leakPattern);
  });
});
