import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, apiAs, expectProblem, roomyLimits, tenant, uniqueSlug } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe("redirects that cannot be followed", () => {
  let t: TestApp;
  let api: Api;

  beforeAll(async () => {
    t = await startTestApp({ ...roomyLimits });
    api = apiAs(t, (await tenant(t, "acme")).key);
  });
  afterAll(() => t?.close());

  it("an expired link answers 410, or 302 to its expiredUrl, even while it sits in the cache", async () => {
    const expiresAt = new Date(Date.now() + 1_000).toISOString();
    const plain = await api.create({ url: "https://example.com/offer", expiresAt });
    const fallback = await api.create({
      url: "https://example.com/offer",
      expiresAt,
      expiredUrl: "https://example.com/offer-ended",
      redirectStatus: 301,
    });
    // Followed before expiry: now cached in every tier.
    expect((await t.app.request(`/${plain.slug}`)).status).toBe(302);
    expect((await t.app.request(`/${fallback.slug}`)).status).toBe(301);
    await sleep(Date.parse(expiresAt) - Date.now() + 20);

    const gone = await t.app.request(`/${plain.slug}`);
    const problem = await expectProblem(gone, 410);
    expect(problem.code).toBe("GONE");
    expect(problem.detail).toContain("expired");
    expect(gone.headers.get("location")).toBeNull();
    expect((await t.app.request(`/${plain.slug}`, { method: "HEAD" })).status).toBe(410);

    // The expired fallback is a plain 302 whatever the link's own status: a 301 would be cached for good.
    const moved = await t.app.request(`/${fallback.slug}`);
    expect([moved.status, moved.headers.get("location")]).toEqual([302, "https://example.com/offer-ended"]);

    const preview = await (await t.app.request(`/${plain.slug}+`)).json();
    expect(preview).toMatchObject({ expired: true });
    // The owner can revive it by moving the expiry: visible at once.
    const revived = await api.patch(`/links/${plain.id}`, {
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(revived.status).toBe(200);
    expect((await t.app.request(`/${plain.slug}`)).status).toBe(302);
  });

  it("an expired password link answers 410 before asking for the password", async () => {
    const expiresAt = new Date(Date.now() + 500).toISOString();
    const link = await api.create({ url: "https://example.com/s", expiresAt, password: "pw" });
    expect((await t.app.request(`/${link.slug}`)).status).toBe(401);
    await sleep(Date.parse(expiresAt) - Date.now() + 20);
    expect((await t.app.request(`/${link.slug}`)).status).toBe(410);
    const post = await t.app.request(`/${link.slug}`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "password=pw",
    });
    expect(post.status).toBe(410);
  });

  it("an unknown slug, a deleted link and another domain's link answer 404 problems", async () => {
    await expectProblem(await t.app.request(`/${uniqueSlug("nothing")}`), 404);
    const link = await api.create({ url: "https://example.com/" });
    await api.delete(`/links/${link.id}`);
    await expectProblem(await t.app.request(`/${link.slug}`), 404);
    await expectProblem(await t.app.request(`/${link.slug}+`), 404);
    const head = await t.app.request(`/${link.slug}`, { method: "HEAD" });
    expect(head.status).toBe(404);
  });

  it("answers a password POST without the form field with a 400 naming it", async () => {
    const link = await api.create({ url: "https://example.com/s", password: "pw" });
    const res = await t.app.request(`/${link.slug}`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "pass=pw",
    });
    await expectProblem(res, 400, "form.password");
  });

  it("a click hand-off that throws is logged after the response, never surfacing to the visitor", async () => {
    const link = await api.create({ url: "https://example.com/h" });
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on("unhandledRejection", onRejection);
    const recorder = t.services.clickRecorder;
    t.services.clickRecorder = {
      record() {
        throw new Error("analytics queue is down");
      },
    };
    try {
      const res = await t.app.request(`/${link.slug}`);
      expect([res.status, res.headers.get("location")]).toEqual([302, "https://example.com/h"]);
      await expect.poll(() => t.logs.some((line) => line.includes("click hand-off failed"))).toBe(true);
      await sleep(20);
      expect(rejections).toEqual([]);
    } finally {
      t.services.clickRecorder = recorder;
      process.off("unhandledRejection", onRejection);
    }
  });
});
