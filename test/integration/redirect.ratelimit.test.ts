import { randomInt } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, apiAs, expectProblem, roomyLimits, tenant } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";

/**
 * A client address no other run has used: with REDIS_URL the counters outlive the test app (and
 * the database), so a fixed address would meet the previous run's requests in the same window.
 */
const freshIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

/** The five rate-limit fields every limited response carries. */
function expectRateLimitFields(res: Response, policy: string, limit: number, windowSeconds: number) {
  expect(res.headers.get("ratelimit-policy")).toBe(`"${policy}";q=${limit};w=${windowSeconds}`);
  const remaining = Number(res.headers.get("ratelimit-remaining"));
  const reset = Number(res.headers.get("ratelimit-reset"));
  expect(res.headers.get("ratelimit-limit")).toBe(String(limit));
  expect(res.headers.get("ratelimit")).toBe(`"${policy}";r=${remaining};t=${reset}`);
  expect(reset).toBeGreaterThanOrEqual(0);
  expect(reset).toBeLessThanOrEqual(windowSeconds);
  return { remaining, reset };
}

describe("rate limits on the redirect path", () => {
  let t: TestApp;
  let api: Api;

  beforeAll(async () => {
    t = await startTestApp({
      ...roomyLimits,
      RATE_LIMIT_REDIRECT: "5/60s",
      RATE_LIMIT_PASSWORD: "3/15m",
      CLIENT_IP_HEADER: "x-forwarded-for",
      // The point here is counting, not Redis latency: a slow first script load must not fail open.
      RATE_LIMIT_TIMEOUT_MS: "2000",
    });
    api = apiAs(t, (await tenant(t, "acme")).key);
  });
  afterAll(() => t?.close());

  const follow = (slug: string, ip: string, init: RequestInit = {}) =>
    t.app.request(`/${slug}`, { ...init, headers: { "X-Forwarded-For": ip, ...init.headers } });

  it("lets 5 redirects per minute through per client IP and answers the 6th with 429, Retry-After and the fields", async () => {
    const link = await api.create({ url: "https://example.com/rl" });
    const ip = freshIp();
    for (let i = 0; i < 5; i++) {
      const res = await follow(link.slug, ip);
      expect(res.status).toBe(302);
      expect(expectRateLimitFields(res, "redirect", 5, 60).remaining).toBe(4 - i);
    }
    const refused = await follow(link.slug, ip);
    const problem = await expectProblem(refused, 429);
    expect(problem.code).toBe("RATE_LIMITED");
    expect(problem.type).toBe("https://edgelink.dev/problems/rate-limited");
    expect(refused.headers.get("location")).toBeNull();
    const { remaining, reset } = expectRateLimitFields(refused, "redirect", 5, 60);
    expect(remaining).toBe(0);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(retryAfter).toBe(Math.max(1, reset));
    // Still refused, on every slug and on previews: the limit is per client, not per link.
    expect((await follow(link.slug, ip)).status).toBe(429);
    expect((await follow(`${link.slug}+`, ip)).status).toBe(429);
  });

  it("counts each client IP on its own (the right-most X-Forwarded-For entry, the one our proxy wrote)", async () => {
    const link = await api.create({ url: "https://example.com/ips" });
    const [a, b] = [freshIp(), freshIp()];
    for (let i = 0; i < 5; i++) expect((await follow(link.slug, a)).status).toBe(302);
    expect((await follow(link.slug, a)).status).toBe(429);
    const other = await follow(link.slug, b);
    expect(other.status).toBe(302);
    expect(other.headers.get("ratelimit-remaining")).toBe("4");
    // A client cannot dodge its limit by prepending addresses of its own.
    expect((await follow(link.slug, `${freshIp()}, ${a}`)).status).toBe(429);
    // An IPv6 client is counted by its /64.
    const prefix = `2001:db8:${randomInt(65536).toString(16)}:${randomInt(65536).toString(16)}`;
    for (let i = 0; i < 5; i++) expect((await follow(link.slug, `${prefix}::${i + 1}`)).status).toBe(302);
    expect((await follow(link.slug, `${prefix}::99`)).status).toBe(429);
  });

  it("limits password attempts per client and link: the 4th wrong one is refused with 429", async () => {
    const link = await api.create({ url: "https://example.com/pw", password: "correct horse" });
    const other = await api.create({ url: "https://example.com/pw2", password: "correct horse" });
    const ip = freshIp();
    const attempt = (slug: string, password: string, from = ip) =>
      follow(slug, from, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ password }),
      });
    for (let i = 0; i < 3; i++) {
      const wrong = await attempt(link.slug, `guess-${i}`);
      expect(wrong.status).toBe(401);
      expect(expectRateLimitFields(wrong, "password", 3, 900).remaining).toBe(2 - i);
    }
    const fourth = await attempt(link.slug, "guess-3");
    await expectProblem(fourth, 429);
    expect(Number(fourth.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expectRateLimitFields(fourth, "password", 3, 900);
    // Even the right password waits now: a guesser learns nothing from the refusal.
    expect((await attempt(link.slug, "correct horse")).status).toBe(429);
    // Another client, or another link for this client, is unaffected.
    expect((await attempt(link.slug, "correct horse", freshIp())).status).toBe(303);
    expect((await attempt(other.slug, "correct horse")).status).toBe(303);
  });
});
