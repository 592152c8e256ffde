import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, apiAs, expectProblem, roomyLimits, tenant, uniqueSlug } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";

const bodyMax = 2_048;

/** `text` as a body arriving in pieces, with no Content-Length to go by. */
function streamed(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(at, at + 512));
      at += 512;
    },
  });
}

describe("the app's answers guard browsers, and its bodies are bounded", () => {
  let t: TestApp;
  let api: Api;
  let key: string;

  beforeAll(async () => {
    t = await startTestApp({ ...roomyLimits, API_BODY_MAX_BYTES: String(bodyMax) });
    ({ key } = await tenant(t, "guarded"));
    api = apiAs(t, key);
  });
  afterAll(() => t?.close());

  it("JSON answers — the API, its errors, ops and the OpenAPI document — may not be run, framed or sniffed", async () => {
    const answers = [
      await api.get("/links"),
      await apiAs(t, undefined).get("/links"),
      await t.app.request("/healthz"),
      await t.app.request("/openapi.json"),
    ];
    expect(answers.map((res) => res.status)).toEqual([200, 401, 200, 200]);
    for (const res of answers) {
      expect(res.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      expect(res.headers.get("strict-transport-security")).toMatch(/^max-age=\d+/);
    }
  });

  it("a redirect carries none of them, and /docs may load Swagger UI from its CDN only", async () => {
    const slug = uniqueSlug("sec");
    expect((await api.post("/links", { url: "https://example.com/sec", slug })).status).toBe(201);
    const redirect = await t.app.request(`/${slug}`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("content-security-policy")).toBeNull();
    expect(redirect.headers.get("x-frame-options")).toBeNull();

    const docs = await t.app.request("/docs");
    expect(docs.headers.get("content-security-policy")).toContain(
      "script-src https://cdn.jsdelivr.net 'unsafe-inline'",
    );
    expect(docs.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  });

  it("a password page may not be framed by another site, whether asked for or answered wrongly", async () => {
    const slug = uniqueSlug("pw");
    const created = await api.post("/links", { url: "https://example.com/pw", slug, password: "letmein" });
    expect(created.status).toBe(201);
    const asked = await t.app.request(`/${slug}`);
    const wrong = await t.app.request(`/${slug}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "password=nope",
    });
    for (const res of [asked, wrong]) {
      expect(res.status).toBe(401);
      expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
      expect(res.headers.get("content-security-policy")).toContain("form-action 'self'");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
  });

  it("refuses an API body over API_BODY_MAX_BYTES with 413, declared or not, and stores nothing", async () => {
    const title = "t".repeat(bodyMax);
    const declared = await api.post("/links", { url: "https://example.com/big", title });
    const problem = await expectProblem(declared, 413);
    expect(problem.detail).toBe(`The body is larger than API_BODY_MAX_BYTES (${bodyMax} bytes).`);

    const undeclared = await t.app.request("/api/v1/links", {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: streamed(JSON.stringify({ url: "https://example.com/big", title })),
      duplex: "half",
    } as RequestInit);
    await expectProblem(undeclared, 413);

    const listed = (await (await api.get("/links?q=example.com/big")).json()) as { data: unknown[] };
    expect(listed.data).toEqual([]);
  });

  it("reads no body of an anonymous client (401 first), and bounds a password form's body too", async () => {
    const anonymous = await apiAs(t, undefined).post("/links", {
      url: "https://example.com/",
      title: "x".repeat(bodyMax),
    });
    await expectProblem(anonymous, 401);

    const slug = uniqueSlug("pwbig");
    expect(
      (await api.post("/links", { url: "https://example.com/pw", slug, password: "letmein" })).status,
    ).toBe(201);
    const big = await t.app.request(`/${slug}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `password=${"x".repeat(bodyMax)}`,
    });
    await expectProblem(big, 413);
  });

  it("still takes a body within the bound", async () => {
    const res = await api.post("/links", { url: "https://example.com/fits", title: "t".repeat(200) });
    expect(res.status).toBe(201);
  });
});
