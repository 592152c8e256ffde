import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LinkInput } from "../../src/links/link-service";
import { startTestApp, type TestApp } from "../support/app";

const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";
const slug = () => `r${randomUUID().slice(0, 10)}`;

describe("redirect hot path", () => {
  let t: TestApp;
  let workspaceId: string;
  const create = async (input: Partial<LinkInput> = {}) => {
    const result = await t.services.linkService.create(workspaceId, {
      url: "https://example.com/",
      slug: slug(),
      ...input,
    });
    if (!result.ok) throw new Error(JSON.stringify(result.failure));
    return result.value;
  };
  const counter = (text: string, name: string, labels: string) =>
    Number(text.match(new RegExp(`^${name}${labels ? `\\{${labels}\\}` : ""} (\\d+)$`, "m"))?.[1] ?? 0);
  const metric = async (name: string, labels: string) =>
    counter(await (await t.app.request("/metrics")).text(), name, labels);

  beforeAll(async () => {
    t = await startTestApp({ LINK_CACHE_LOCAL_TTL_SECONDS: "1" });
    workspaceId = (await t.services.workspaces.create({ name: "acme" })).id;
  });
  afterAll(() => t?.close());

  it("redirects with 302 and the default Cache-Control", async () => {
    const link = await create({ url: "https://example.com/a?b=1" });
    const res = await t.app.request(`/${link.slug}`);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://example.com/a?b=1");
    expect(res.headers.get("cache-control")).toBe("private, max-age=0");
  });

  it("uses the link's own status, appends UTM keeping the query, and applies the first matching rule", async () => {
    const link = await create({
      url: "https://example.com/p?utm_source=keep&x=1",
      redirectStatus: 308,
      utm: { utm_source: "newsletter", utm_medium: "email" },
      rules: [
        { device: ["mobile"], url: "https://m.example.com/p" },
        { device: ["mobile", "tablet"], url: "https://never.example" },
      ],
    });
    const desktop = await t.app.request(`/${link.slug}`);
    expect(desktop.status).toBe(308);
    expect(desktop.headers.get("location")).toBe(
      "https://example.com/p?utm_source=keep&x=1&utm_medium=email",
    );
    const mobile = await t.app.request(`/${link.slug}`, { headers: { "User-Agent": iphone } });
    expect(mobile.headers.get("location")).toBe(
      "https://m.example.com/p?utm_source=newsletter&utm_medium=email",
    );
  });

  it("HEAD answers like GET but is recorded as head, never as a click", async () => {
    const link = await create();
    // Clicks are recorded after the response: let earlier tests' recordings finish first.
    await t.services.clickRecorder.drain?.();
    const before = await metric("clicks_served_total", 'traffic="human"');
    const headsBefore = await metric("clicks_served_total", 'traffic="head"');
    const res = await t.app.request(`/${link.slug}`, { method: "HEAD" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://example.com/");
    await t.services.clickRecorder.drain?.();
    expect(await metric("clicks_served_total", 'traffic="human"')).toBe(before);
    expect(await metric("clicks_served_total", 'traffic="head"')).toBe(headsBefore + 1);
  });

  it("previews a link with slug+ without redirecting or counting", async () => {
    const link = await create({ title: "Launch", url: "https://example.com/l" });
    const res = await t.app.request(`/${link.slug}+`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      slug: link.slug,
      url: "https://example.com/l",
      title: "Launch",
      passwordProtected: false,
      expired: false,
    });
  });

  it("asks for the password of a protected link, refuses a wrong one and redirects on the right one", async () => {
    const link = await create({
      password: "open sesame",
      url: "https://example.com/secret",
      redirectStatus: 307,
    });
    const form = await t.app.request(`/${link.slug}`);
    expect(form.status).toBe(401);
    expect(form.headers.get("content-type")).toContain("text/html");
    expect(await form.text()).toContain('<form method="post"');
    const post = (password: string) =>
      t.app.request(`/${link.slug}`, {
        method: "POST",
        body: new URLSearchParams({ password }),
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      });
    const wrong = await post("guess");
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain("Wrong password");
    const right = await post("open sesame");
    expect(right.status).toBe(303);
    expect(right.headers.get("location")).toBe("https://example.com/secret");
    const preview = await (await t.app.request(`/${link.slug}+`)).json();
    expect(preview).toMatchObject({ passwordProtected: true, url: null });
  });

  it("maxClicks is exact under concurrency: the click that reaches the limit is the last one redirected", async () => {
    // Only a human visit consumes a click (the analytics classifier decides): send a browser's UA.
    const human = { headers: { "User-Agent": iphone } };
    const link = await create({ maxClicks: 5 });
    const responses = await Promise.all(
      Array.from({ length: 30 }, () => t.app.request(`/${link.slug}`, human)),
    );
    const statuses = responses.map((res) => res.status);
    expect(statuses.filter((s) => s === 302)).toHaveLength(5);
    expect(statuses.filter((s) => s === 410)).toHaveLength(25);
    const withFallback = await create({ maxClicks: 1, expiredUrl: "https://example.com/sold-out" });
    expect((await t.app.request(`/${withFallback.slug}`, human)).headers.get("location")).toBe(
      "https://example.com/",
    );
    const after = await t.app.request(`/${withFallback.slug}`, human);
    expect([after.status, after.headers.get("location")]).toEqual([302, "https://example.com/sold-out"]);
    // HEAD never consumes a click.
    const headOnly = await create({ maxClicks: 1 });
    await t.app.request(`/${headOnly.slug}`, { method: "HEAD", ...human });
    // Nor does a bot, a link preview or a prefetch.
    await t.app.request(`/${headOnly.slug}`, { headers: { "User-Agent": "Googlebot/2.1" } });
    await t.app.request(`/${headOnly.slug}`, { headers: { "User-Agent": "Slackbot-LinkExpanding 1.0" } });
    await t.app.request(`/${headOnly.slug}`, { headers: { ...human.headers, "Sec-Purpose": "prefetch" } });
    expect((await t.app.request(`/${headOnly.slug}`, human)).status).toBe(302);
    expect((await t.app.request(`/${headOnly.slug}`, human)).status).toBe(410);
  });

  it("an edit or delete is visible at once on this instance", async () => {
    const link = await create({ url: "https://example.com/old" });
    expect((await t.app.request(`/${link.slug}`)).headers.get("location")).toBe("https://example.com/old");
    await t.services.linkService.update(workspaceId, link.id, { url: "https://example.com/new" });
    expect((await t.app.request(`/${link.slug}`)).headers.get("location")).toBe("https://example.com/new");
    const renamed = slug();
    await t.services.linkService.update(workspaceId, link.id, { slug: renamed });
    expect((await t.app.request(`/${link.slug}`)).status).toBe(404);
    expect((await t.app.request(`/${renamed}`)).status).toBe(302);
    await t.services.linkService.remove(workspaceId, link.id);
    expect((await t.app.request(`/${renamed}`)).status).toBe(404);
  });

  it("an unknown slug reaches Postgres once per negative-cache TTL, however often and concurrently it is asked", async () => {
    const unknown = slug();
    const loads = () => metric("link_cache_db_loads_total", "");
    const before = await loads();
    await Promise.all(Array.from({ length: 50 }, () => t.app.request(`/${unknown}`)));
    for (let i = 0; i < 50; i += 1) expect((await t.app.request(`/${unknown}`)).status).toBe(404);
    expect((await loads()) - before).toBe(1);
    // Creating the slug clears the negative entry at once.
    await create({ slug: unknown, url: "https://example.com/now" });
    expect((await t.app.request(`/${unknown}`)).headers.get("location")).toBe("https://example.com/now");
  });
});
