import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app";

describe("the app on this run's backing services", () => {
  let t: TestApp;
  let workspaceId: string;
  beforeAll(async () => {
    t = await startTestApp({ SHORT_DOMAINS: "sho.rt,localhost" });
    workspaceId = (await t.services.workspaces.create({ name: "acme" })).id;
  });
  afterAll(() => t?.close());

  it("answers liveness", async () => {
    const res = await t.app.request("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("is ready when Postgres and Redis answer, and says which it checked", async () => {
    const res = await t.app.request("/readyz");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      status: "ready",
      checks: { postgres: { status: "up" }, redis: { status: "up" } },
    });
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("redirects a slug with the link's status and Cache-Control, on the domain the request addressed", async () => {
    const slug = `r${randomUUID().slice(0, 8)}`;
    await t.services.links.create({
      workspaceId,
      domain: "sho.rt",
      slug,
      url: "https://example.com/a?b=1",
      redirectStatus: 301,
      cacheControl: "public, max-age=60",
    });
    const res = await t.app.request(`http://sho.rt/${slug}`);
    expect(res.status).toBe(301);
    expect(res.headers.get("location")).toBe("https://example.com/a?b=1");
    expect(res.headers.get("cache-control")).toBe("public, max-age=60");
    // Another host of ours does not see it; an unknown host falls back to the default domain.
    expect((await t.app.request(`http://localhost/${slug}`)).status).toBe(404);
    expect((await t.app.request(`http://internal.svc/${slug}`)).status).toBe(301);
  });

  it("answers 410 for an expired link, or redirects to its expiredUrl", async () => {
    const past = new Date(Date.now() - 60_000);
    const gone = `g${randomUUID().slice(0, 8)}`;
    const moved = `m${randomUUID().slice(0, 8)}`;
    await t.services.links.create({
      workspaceId,
      domain: "sho.rt",
      slug: gone,
      url: "https://example.com",
      expiresAt: past,
    });
    await t.services.links.create({
      workspaceId,
      domain: "sho.rt",
      slug: moved,
      url: "https://example.com",
      expiresAt: past,
      expiredUrl: "https://example.com/over",
    });
    const res = await t.app.request(`http://sho.rt/${gone}`);
    expect(res.status).toBe(410);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const redirect = await t.app.request(`http://sho.rt/${moved}`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("location")).toBe("https://example.com/over");
  });

  it("counts requests by route template and status in /metrics", async () => {
    await t.app.request("/healthz");
    await t.app.request("/no-such-slug");
    await t.app.request("/api/v1/nothing/here");
    const text = await (await t.app.request("/metrics")).text();
    expect(text).toMatch(/^http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+$/m);
    expect(text).toMatch(/^http_requests_total\{method="GET",route="\/:slug",status="404"\} \d+$/m);
    expect(text).toMatch(/^http_requests_total\{method="GET",route="unmatched",status="404"\} \d+$/m);
    expect(text).toMatch(
      /^http_request_duration_seconds_bucket\{method="GET",route="\/healthz",status="200",le="\+Inf"\} \d+$/m,
    );
    expect(text).not.toContain("no-such-slug");
  });

  it("publishes an OpenAPI 3.1 document generated from the route schemas", async () => {
    const doc = await (await t.app.request("/openapi.json")).json();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/healthz", "/readyz", "/{slug}"]));
    expect(doc.paths["/{slug}"].get.parameters[0]).toMatchObject({ name: "slug", in: "path" });
  });

  it("serves an interactive reference of that document at /docs", async () => {
    const res = await t.app.request("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const page = await res.text();
    expect(page).toContain("<title>edgelink API</title>");
    expect(page).toContain("SwaggerUIBundle");
    expect(page).toMatch(/url: ?['"]\/openapi\.json['"]/);
  });
});
