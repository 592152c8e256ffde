import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Api, apiAs, roomyLimits, tenant, uniqueSlug } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";

/** The slug generator, stubbed: while `draws` holds slugs, each generated slug is the next of them. */
const generated = vi.hoisted(() => ({ draws: [] as string[] }));
vi.mock("../../src/links/slug", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/links/slug")>();
  return {
    ...real,
    generateSlug: (length: number) => generated.draws.shift() ?? real.generateSlug(length),
  };
});

describe("slugs under concurrency", () => {
  let t: TestApp;
  let api: Api;

  beforeAll(async () => {
    t = await startTestApp({ ...roomyLimits, SLUG_LENGTH: "4" });
    api = apiAs(t, (await tenant(t, "acme")).key);
  });
  afterAll(() => t?.close());

  it("50 concurrent creates of one custom slug: exactly one 201, 49 × 409", async () => {
    const slug = uniqueSlug("race");
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => api.post("/links", { url: `https://example.com/${i}`, slug })),
    );
    const statuses = responses.map((res) => res.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    const winner = await responses[statuses.indexOf(201)]!.json();
    for (const res of responses.filter((r) => r.status === 409)) {
      expect(await res.json()).toMatchObject({ code: "SLUG_TAKEN" });
    }
    // The winner is the link the slug serves, and the only one with it.
    expect((await t.app.request(`/${slug}`)).headers.get("location")).toBe(winner.url);
    const { data } = await (await api.get(`/links?q=${slug}`)).json();
    expect(data.map((l: { id: string }) => l.id)).toEqual([winner.id]);
  });

  it("200 concurrent creates with generated 4-character slugs all succeed, each with its own slug", async () => {
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => api.post("/links", { url: `https://example.com/g${i}` })),
    );
    expect(responses.map((res) => res.status)).toEqual(Array(200).fill(201));
    const links = await Promise.all(responses.map((res) => res.json()));
    const slugs = links.map((l: { slug: string }) => l.slug);
    expect(new Set(slugs).size).toBe(200);
    for (const slug of slugs) expect(slug).toMatch(/^[0-9A-Za-z]{4}$/);
    // Each slug redirects to its own link.
    const sample = links.slice(0, 20);
    for (const link of sample) {
      expect((await t.app.request(`/${link.slug}`)).headers.get("location")).toBe(link.url);
    }
  });

  it("retries a generated slug that collides, and never hands out a reserved word", async () => {
    const taken = await api.create({ url: "https://example.com/first" });
    // The next slugs drawn are: the taken one, the reserved word "docs", then a fresh one.
    const fresh = uniqueSlug("")
      .replace(/[^0-9A-Za-z]/g, "")
      .slice(0, 4)
      .padEnd(4, "Z");
    generated.draws = [taken.slug, "docs", fresh];
    try {
      const res = await api.post("/links", { url: "https://example.com/second" });
      expect(res.status).toBe(201);
      const second = await res.json();
      expect(second.slug).toBe(fresh);
      expect(generated.draws).toEqual([]);
    } finally {
      generated.draws = [];
    }
    expect((await t.app.request(`/${taken.slug}`)).headers.get("location")).toBe("https://example.com/first");
    expect((await t.app.request(`/${fresh}`)).headers.get("location")).toBe("https://example.com/second");
  });
});
