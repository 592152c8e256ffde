import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { inflateSync } from "node:zlib";
import { getRequestListener } from "@hono/node-server";
import { eq } from "drizzle-orm";
import jsQR from "jsqr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { links } from "../../db/schema";
import { type Api, type ApiLink, apiAs, roomyLimits, tenant, uniqueSlug } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";
import { postBulk } from "../support/ndjson";
import { freePort } from "../support/node-process";

/** Our QR PNGs are 1-bit grayscale, unfiltered: enough of a decoder to hand the pixels to jsQR. */
function pngPixels(png: Uint8Array): { width: number; height: number; rgba: Uint8ClampedArray } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const idat: Uint8Array[] = [];
  let width = 0;
  let height = 0;
  for (let at = 8; at < png.length; ) {
    const length = view.getUint32(at);
    const type = new TextDecoder().decode(png.subarray(at + 4, at + 8));
    if (type === "IHDR") [width, height] = [view.getUint32(at + 8), view.getUint32(at + 12)];
    if (type === "IDAT") idat.push(png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = Math.ceil(width / 8) + 1;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const light = (raw[y * stride + 1 + (x >> 3)]! >> (7 - (x & 7))) & 1;
      rgba.fill(light ? 255 : 0, (y * width + x) * 4, (y * width + x) * 4 + 3);
      rgba[(y * width + x) * 4 + 3] = 255;
    }
  }
  return { width, height, rgba };
}

describe("links API: the happy paths", () => {
  let t: TestApp;
  let api: Api;
  let workspaceId: string;

  beforeAll(async () => {
    t = await startTestApp({ ...roomyLimits, SLUG_LENGTH: "9", LINK_CACHE_LOCAL_TTL_SECONDS: "1" });
    const acme = await tenant(t, "acme");
    workspaceId = acme.workspaceId;
    api = apiAs(t, acme.key);
  });
  afterAll(() => t?.close());

  it("creates a link with a generated slug of SLUG_LENGTH base62 characters", async () => {
    const res = await api.post("/links", { url: "https://example.com/launch?ref=x" });
    expect(res.status).toBe(201);
    const link = (await res.json()) as ApiLink;
    expect(res.headers.get("location")).toBe(`/api/v1/links/${link.id}`);
    expect(link.slug).toMatch(/^[0-9A-Za-z]{9}$/);
    expect(link).toMatchObject({
      url: "https://example.com/launch?ref=x",
      domain: "localhost",
      shortUrl: `http://localhost:3000/${link.slug}`,
      title: null,
      tags: [],
      redirectStatus: 302,
      cacheControl: "private, max-age=0",
      passwordProtected: false,
      clickCount: 0,
    });
    const redirect = await t.app.request(`/${link.slug}`);
    expect([redirect.status, redirect.headers.get("location")]).toEqual([
      302,
      "https://example.com/launch?ref=x",
    ]);
    // Generated slugs differ from one link to the next.
    const slugs = new Set<string>();
    for (let i = 0; i < 10; i++) slugs.add((await api.create({ url: "https://example.com/" })).slug);
    expect(slugs.size).toBe(10);
  });

  it("creates a link with a custom slug and every optional field", async () => {
    const slug = uniqueSlug("Custom_");
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const link = await api.create({
      url: "https://example.com/full",
      slug,
      domain: "localhost",
      title: "Full",
      tags: ["launch", "q3"],
      expiresAt,
      expiredUrl: "https://example.com/over",
      maxClicks: 10,
      redirectStatus: 307,
      cacheControl: "public, max-age=60",
      password: "pw",
      utm: { utm_source: "news" },
      rules: [{ country: ["DE"], url: "https://example.de/" }],
    });
    expect(link).toMatchObject({
      slug,
      shortUrl: `http://localhost:3000/${slug}`,
      title: "Full",
      tags: ["launch", "q3"],
      expiresAt,
      expiredUrl: "https://example.com/over",
      maxClicks: 10,
      redirectStatus: 307,
      cacheControl: "public, max-age=60",
      passwordProtected: true,
      utm: { utm_source: "news" },
      rules: [{ country: ["DE"], url: "https://example.de/" }],
    });
    expect(link).not.toHaveProperty("password");
    expect(link).not.toHaveProperty("passwordHash");
  });

  it("lists newest first and pages with a keyset cursor without gaps or duplicates, ties included", async () => {
    const own = await tenant(t, "pager");
    const pager = apiAs(t, own.key);
    const created: string[] = [];
    for (let i = 0; i < 23; i++) created.push((await pager.create({ url: `https://example.com/${i}` })).id);
    // Nine links share one creation instant, so pages must break ties by id to neither skip nor repeat.
    const tie = new Date(Date.now() - 60_000);
    for (const id of created.slice(5, 14)) {
      await t.services.db.primary.update(links).set({ createdAt: tie }).where(eq(links.id, id));
    }
    const seen: ApiLink[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await pager.get(`/links?limit=4${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { data: ApiLink[]; nextCursor: string | null };
      expect(page.data.length).toBeLessThanOrEqual(4);
      seen.push(...page.data);
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 20);
    expect(pages).toBe(6);
    expect(seen.map((l) => l.id).sort()).toEqual([...created].sort());
    const expected = [...seen].sort(
      (a, b) => b.createdAt.localeCompare(a.createdAt) || (b.id < a.id ? -1 : b.id > a.id ? 1 : 0),
    );
    expect(seen.map((l) => l.id)).toEqual(expected.map((l) => l.id));
    // The link created last is listed first (it was not part of the tie).
    expect(seen[0]!.id).toBe(created.at(-1));
    // The default page is 20 links; an exact last page has no cursor.
    const first = await (await pager.get("/links")).json();
    expect(first.data).toHaveLength(20);
    const all = await (await pager.get("/links?limit=23")).json();
    expect([all.data.length, all.nextCursor]).toEqual([23, null]);
  });

  it("filters by tag", async () => {
    const own = await tenant(t, "tags");
    const tagged = apiAs(t, own.key);
    const a = await tagged.create({ url: "https://example.com/a", tags: ["launch", "q3"] });
    const b = await tagged.create({ url: "https://example.com/b", tags: ["launch"] });
    await tagged.create({ url: "https://example.com/c", tags: ["q3"] });
    await tagged.create({ url: "https://example.com/d" });
    const ids = async (query: string) =>
      ((await (await tagged.get(`/links?${query}`)).json()).data as ApiLink[]).map((l) => l.id);
    expect(await ids("tag=launch")).toEqual([b.id, a.id]);
    expect(await ids("tag=Launch")).toEqual([]);
    expect(await ids(`tag=${encodeURIComponent("launch q3")}`)).toEqual([]);
    expect(await ids("tag=nothing")).toEqual([]);
  });

  it("finds a generated slug with q by exact match only, a custom one by any piece of it", async () => {
    const own = await tenant(t, "search-generated");
    const finder = apiAs(t, own.key);
    const generated = await finder.create({ url: "https://example.com/generated" });
    const custom = await finder.create({ url: "https://example.com/custom", slug: uniqueSlug("Gen_Custom") });
    const ids = async (q: string) =>
      ((await (await finder.get(`/links?q=${encodeURIComponent(q)}`)).json()).data as ApiLink[]).map(
        (l) => l.id,
      );
    expect(await ids(generated.slug)).toEqual([generated.id]);
    // A piece of a random slug, or its other case, is not a search anyone means.
    expect(await ids(generated.slug.slice(1))).toEqual([]);
    const swapped = [...generated.slug]
      .map((ch) => (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase()))
      .join("");
    if (swapped !== generated.slug) expect(await ids(swapped)).toEqual([]);
    expect(await ids("gen_custom")).toEqual([custom.id]);
    // Renamed to a slug of its own choosing, the generated link becomes searchable by a piece of it.
    const renamed = uniqueSlug("Renamed_Later");
    expect((await finder.patch(`/links/${generated.id}`, { slug: renamed })).status).toBe(200);
    expect(await ids("renamed_later")).toEqual([generated.id]);
    // Bulk-imported links follow the same rule.
    const bulk = await postBulk(
      t.app,
      own.key,
      `{"url":"https://example.com/bulk-generated"}\n{"url":"https://example.com/bulk-custom","slug":"${uniqueSlug("Bulk_Custom")}"}\n`,
    );
    const lines = (await bulk.text())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { status: string; id: string; slug: string });
    expect(lines.map((l) => l.status)).toEqual(["created", "created"]);
    expect(await ids(lines[0]!.slug)).toEqual([lines[0]!.id]);
    expect(await ids(lines[0]!.slug.slice(0, -1))).toEqual([]);
    expect(await ids("bulk_custom")).toEqual([lines[1]!.id]);
  });

  it("searches slug, title and url with q, case-insensitively, taking % and _ literally", async () => {
    const own = await tenant(t, "search");
    const finder = apiAs(t, own.key);
    const bySlug = await finder.create({ url: "https://example.com/1", slug: uniqueSlug("Summer_Sale") });
    const byTitle = await finder.create({ url: "https://example.com/2", title: "100% off WINTER" });
    const byUrl = await finder.create({ url: "https://shop.example.org/Autumn/deal" });
    const decoyPercent = await finder.create({ url: "https://example.com/3", title: "1000 off winter" });
    const decoyUnderscore = await finder.create({
      url: "https://example.com/4",
      slug: uniqueSlug("SummerXSale"),
    });
    const ids = async (q: string, extra = "") =>
      ((await (await finder.get(`/links?q=${encodeURIComponent(q)}${extra}`)).json()).data as ApiLink[])
        .map((l) => l.id)
        .sort();
    expect(await ids("summer_sale")).toEqual([bySlug.id]);
    expect(await ids("summer")).toEqual([bySlug.id, decoyUnderscore.id].sort());
    expect(await ids("100%")).toEqual([byTitle.id]);
    expect(await ids("winter")).toEqual([byTitle.id, decoyPercent.id].sort());
    expect(await ids("AUTUMN/DEAL")).toEqual([byUrl.id]);
    expect(await ids("%")).toEqual([byTitle.id]);
    expect(await ids("_")).toEqual([bySlug.id]);
    expect(await ids("\\")).toEqual([]);
    // q and tag combine, and q pages like the plain list.
    const tagged = await finder.create({ url: "https://example.com/winter", tags: ["x"] });
    expect(await ids("winter", "&tag=x")).toEqual([tagged.id]);
    const page = await (await finder.get("/links?q=winter&limit=2")).json();
    const rest = await (await finder.get(`/links?q=winter&limit=2&cursor=${page.nextCursor}`)).json();
    expect([...page.data, ...rest.data].map((l: ApiLink) => l.id).sort()).toEqual(
      [byTitle.id, decoyPercent.id, tagged.id].sort(),
    );
  });

  it("gets a link by id", async () => {
    const link = await api.create({ url: "https://example.com/get", title: "Get me" });
    const res = await api.get(`/links/${link.id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(link);
  });

  it("patches fields, clears nullable ones with null, and moves the slug on the redirect path at once", async () => {
    const link = await api.create({
      url: "https://example.com/before",
      title: "Before",
      tags: ["a"],
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      expiredUrl: "https://example.com/expired",
      maxClicks: 5,
      password: "secret",
      utm: { utm_source: "x" },
      rules: [{ device: ["mobile"], url: "https://m.example.com/" }],
    });
    const res = await api.patch(`/links/${link.id}`, {
      title: null,
      expiresAt: null,
      expiredUrl: null,
      maxClicks: null,
      password: null,
      utm: null,
      rules: null,
      tags: [],
      url: "https://example.com/after",
      redirectStatus: 301,
      cacheControl: "no-cache",
    });
    expect(res.status).toBe(200);
    const changed = (await res.json()) as ApiLink;
    expect(changed).toMatchObject({
      id: link.id,
      slug: link.slug,
      url: "https://example.com/after",
      title: null,
      tags: [],
      expiresAt: null,
      expiredUrl: null,
      maxClicks: null,
      passwordProtected: false,
      utm: null,
      rules: null,
      redirectStatus: 301,
      cacheControl: "no-cache",
      createdAt: link.createdAt,
    });
    expect(Date.parse(changed.updatedAt)).toBeGreaterThanOrEqual(Date.parse(link.updatedAt));
    expect(await (await api.get(`/links/${link.id}`)).json()).toEqual(changed);
    const followed = await t.app.request(`/${link.slug}`);
    expect([
      followed.status,
      followed.headers.get("location"),
      followed.headers.get("cache-control"),
    ]).toEqual([301, "https://example.com/after", "no-cache"]);

    const renamed = uniqueSlug("moved");
    const moved = await api.patch(`/links/${link.id}`, { slug: renamed });
    expect(moved.status).toBe(200);
    expect(await moved.json()).toMatchObject({ slug: renamed, shortUrl: `http://localhost:3000/${renamed}` });
    expect((await t.app.request(`/${link.slug}`)).status).toBe(404);
    expect((await t.app.request(`/${renamed}`)).headers.get("location")).toBe("https://example.com/after");
    // A partial patch leaves every other field alone.
    const titled = await (await api.patch(`/links/${link.id}`, { title: "Again" })).json();
    expect(titled).toMatchObject({ title: "Again", url: "https://example.com/after", slug: renamed });
  });

  it("deletes a link: 204, then 404 on the API and on the redirect path", async () => {
    const link = await api.create({ url: "https://example.com/doomed" });
    expect((await t.app.request(`/${link.slug}`)).status).toBe(302);
    const res = await api.delete(`/links/${link.id}`);
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect((await api.get(`/links/${link.id}`)).status).toBe(404);
    expect((await api.delete(`/links/${link.id}`)).status).toBe(404);
    expect((await t.app.request(`/${link.slug}`)).status).toBe(404);
  });

  it("renders the short URL as a QR code in SVG and PNG", async () => {
    const link = await api.create({ url: "https://example.com/qr" });
    const svg = await api.get(`/links/${link.id}/qr`);
    expect(svg.status).toBe(200);
    expect(svg.headers.get("content-type")).toBe("image/svg+xml");
    const text = await svg.text();
    expect(text).toMatch(/^(<\?xml[^>]*>\s*)?<svg[\s>]/);
    expect(text).toMatch(/width="256"/);

    const png = await api.get(`/links/${link.id}/qr?format=png&size=300`);
    expect(png.status).toBe(200);
    expect(png.headers.get("content-type")).toBe("image/png");
    const bytes = new Uint8Array(await png.arrayBuffer());
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const { width, height, rgba } = pngPixels(bytes);
    expect([width, height]).toEqual([300, 300]);
    // What a phone's camera reads: the short URL.
    expect(jsQR(rgba, width, height)?.data).toBe(link.shortUrl);
  });

  it("previews a link with /:slug+ as JSON, without counting a click", async () => {
    const link = await api.create({ url: "https://example.com/preview", title: "Preview", maxClicks: 1 });
    for (let i = 0; i < 3; i++) {
      const res = await t.app.request(`/${link.slug}+`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        slug: link.slug,
        domain: "localhost",
        title: "Preview",
        url: "https://example.com/preview",
        redirectStatus: 302,
        passwordProtected: false,
        expired: false,
      });
    }
    // The single allowed click is still there for a browser's visit (the kind that counts).
    const browser = { headers: { "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0" } };
    expect((await t.app.request(`/${link.slug}`, browser)).status).toBe(302);
    expect((await t.app.request(`/${link.slug}`, browser)).status).toBe(410);
  });

  describe("Idempotency-Key on POST /links", () => {
    const rowsWithSlug = async (slugPrefix: string) =>
      (await t.services.links.list(workspaceId, { limit: 100, q: slugPrefix })).rows.length;

    it("replays the same response for the same key and body, creating one link", async () => {
      const key = crypto.randomUUID();
      const body = { url: "https://example.com/idem", title: uniqueSlug("idem") };
      const first = await api.post("/links", body, { "Idempotency-Key": key });
      expect(first.status).toBe(201);
      const firstText = await first.text();
      const retry = await api.post("/links", body, { "Idempotency-Key": key });
      expect(retry.status).toBe(201);
      expect(retry.headers.get("idempotent-replayed")).toBe("true");
      expect(retry.headers.get("location")).toBe(first.headers.get("location"));
      expect(await retry.text()).toBe(firstText);
      expect(await rowsWithSlug(body.title)).toBe(1);
    });

    it("answers 422 when the key is reused with another body", async () => {
      const key = crypto.randomUUID();
      const title = uniqueSlug("idem");
      expect(
        (await api.post("/links", { url: "https://example.com/1", title }, { "Idempotency-Key": key }))
          .status,
      ).toBe(201);
      const other = await api.post(
        "/links",
        { url: "https://example.com/2", title },
        { "Idempotency-Key": key },
      );
      expect(other.status).toBe(422);
      expect(await other.json()).toMatchObject({ code: "IDEMPOTENCY_KEY_REUSED" });
      expect(await rowsWithSlug(title)).toBe(1);
    });

    it("answers 409 with Retry-After to a retry while the first request is still running", async () => {
      const key = crypto.randomUUID();
      const body = { url: "https://example.com/slow", title: uniqueSlug("idem") };
      const service = t.services.linkService;
      const original = service.create;
      let release = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let entered = 0;
      service.create = async (...args) => {
        entered++;
        await gate;
        return original(...args);
      };
      try {
        const first = api.post("/links", body, { "Idempotency-Key": key });
        await expect.poll(() => entered).toBe(1);
        const concurrent = await api.post("/links", body, { "Idempotency-Key": key });
        expect(concurrent.status).toBe(409);
        expect(concurrent.headers.get("retry-after")).toBe("1");
        expect(await concurrent.json()).toMatchObject({ code: "IDEMPOTENCY_KEY_IN_FLIGHT" });
        release();
        expect((await first).status).toBe(201);
      } finally {
        service.create = original;
        release();
      }
      const replay = await api.post("/links", body, { "Idempotency-Key": key });
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(entered).toBe(1);
      expect(await rowsWithSlug(body.title)).toBe(1);
    });
  });

  it("documents every links route in /openapi.json with the schemas that validate it", async () => {
    const res = await t.app.request("/openapi.json");
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.openapi).toBe("3.1.0");
    const paths = doc.paths as Record<
      string,
      Record<string, { parameters?: { name: string; in: string }[] }>
    >;
    expect(Object.keys(paths["/api/v1/links"]!).sort()).toEqual(["get", "post"]);
    expect(Object.keys(paths["/api/v1/links/{id}"]!).sort()).toEqual(["delete", "get", "patch"]);
    expect(Object.keys(paths["/api/v1/links/{id}/qr"]!)).toEqual(["get"]);
    expect(paths["/{slug}"]).toBeDefined();
    const listParams = paths["/api/v1/links"]!.get!.parameters!.map((p) => `${p.in}.${p.name}`).sort();
    expect(listParams).toEqual(["query.cursor", "query.limit", "query.q", "query.tag"]);
    const limit = doc.paths["/api/v1/links"].get.parameters.find((p: { name: string }) => p.name === "limit");
    expect(limit.schema).toMatchObject({ type: "integer", minimum: 1, maximum: 100, default: 20 });
    const qrParams = paths["/api/v1/links/{id}/qr"]!.get!.parameters!.map((p) => `${p.in}.${p.name}`).sort();
    expect(qrParams).toEqual(["path.id", "query.format", "query.size"]);

    const post = doc.paths["/api/v1/links"].post;
    expect(post.requestBody.content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/CreateLink",
    });
    expect(post.responses["201"].content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/Link",
    });
    expect(doc.paths["/api/v1/links/{id}"].patch.requestBody.content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/UpdateLink",
    });
    const create = doc.components.schemas.CreateLink;
    expect(create.required).toEqual(["url"]);
    expect(create.additionalProperties).toBe(false);
    expect(Object.keys(create.properties).sort()).toEqual(
      [
        "cacheControl",
        "domain",
        "expiredUrl",
        "expiresAt",
        "maxClicks",
        "password",
        "redirectStatus",
        "rules",
        "slug",
        "tags",
        "title",
        "url",
        "utm",
      ].sort(),
    );
    expect(create.properties.url.maxLength).toBe(2048);
    expect(create.properties.slug.pattern).toBe("^[A-Za-z0-9_-]{1,64}$");
    expect(doc.components.schemas.Link.properties).not.toHaveProperty("passwordHash");
  });
});

describe("links API on a real port: the short URL it answers opens the link", () => {
  it("a link created on localhost:PORT redirects from its shortUrl", async () => {
    const port = await freePort();
    const t = await startTestApp({ ...roomyLimits, PORT: String(port) });
    const server = createServer(getRequestListener(t.app.fetch));
    try {
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
      expect((server.address() as AddressInfo).port).toBe(port);
      const { key } = await tenant(t, "porty");
      const res = await apiAs(t, key).post("/links", { url: "https://example.com/opened" });
      const link = (await res.json()) as ApiLink;
      expect(link.shortUrl).toBe(`http://localhost:${port}/${link.slug}`);

      // localhost may resolve to ::1 first; the listener is on 127.0.0.1, as `npm start` on 0.0.0.0 would be.
      const opened = await fetch(link.shortUrl.replace("//localhost:", "//127.0.0.1:"), {
        redirect: "manual",
        headers: { host: `localhost:${port}` },
      });
      expect(opened.status).toBe(302);
      expect(opened.headers.get("location")).toBe("https://example.com/opened");
    } finally {
      await new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await t.close();
    }
  });
});
