import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, apiAs, expectProblem, roomyLimits, tenant, uniqueSlug } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";

const ok = "https://example.com/ok";

/** One bad input: the body (merged over a valid one), and what the problem must say. */
type BadBody = [label: string, body: Record<string, unknown>, field: string, status?: number];

const badBodies: BadBody[] = [
  ["no url", { url: undefined }, "body.url"],
  ["url not a string", { url: 42 }, "body.url"],
  ["empty url", { url: "" }, "body.url"],
  ["relative url", { url: "/just/a/path" }, "body.url"],
  ["javascript: url", { url: "javascript:alert(document.cookie)" }, "body.url"],
  ["data: url", { url: "data:text/html,<script>alert(1)</script>" }, "body.url"],
  ["ftp: url", { url: "ftp://example.com/file" }, "body.url"],
  ["file: url", { url: "file:///etc/passwd" }, "body.url"],
  ["credentials in url", { url: "https://user:pass@example.com/" }, "body.url"],
  ["user name in url", { url: "https://admin@example.com/" }, "body.url"],
  ["url over 2048 chars", { url: `https://example.com/${"a".repeat(2030)}` }, "body.url"],
  ["url over 2048 chars once normalised", { url: `https://example.com/${" ".repeat(1000)}x` }, "body.url"],
  ["CR/LF in url", { url: "https://example.com/a\r\nSet-Cookie: x=1" }, "body.url"],
  ["LF in url", { url: "https://example.com/a\nb" }, "body.url"],
  ["tab in url", { url: "https://exa\tmple.com/" }, "body.url"],
  ["NUL in url", { url: "https://example.com/\u0000" }, "body.url"],
  ["DEL in url", { url: "https://example.com/\u007f" }, "body.url"],
  ["loop to our own domain", { url: "https://localhost/abc" }, "body.url"],
  ["loop to a second short domain", { url: "https://sho.rt/abc" }, "body.url"],
  ["loop via a subdomain, upper case and a trailing dot", { url: "HTTP://WWW.SHO.RT./abc" }, "body.url"],
  ["loop with a port", { url: "http://localhost:3000/abc" }, "body.url"],
  ["bad expiredUrl", { expiredUrl: "javascript:alert(1)" }, "body.expiredUrl"],
  ["loop in expiredUrl", { expiredUrl: "https://sho.rt/x" }, "body.expiredUrl"],
  ["bad rule url", { rules: [{ device: ["mobile"], url: "data:text/plain,x" }] }, "body.rules.0.url"],
  [
    "CR/LF in a rule url",
    { rules: [{ device: ["mobile"], url: "https://a.example/\r\n" }] },
    "body.rules.0.url",
  ],
  ["rule without a condition", { rules: [{ url: ok }] }, "body.rules.0"],
  ["rule with an unknown device", { rules: [{ device: ["fridge"], url: ok }] }, "body.rules.0.device.0"],
  ["rule with a bad country", { rules: [{ country: ["de"], url: ok }] }, "body.rules.0.country.0"],
  ["reserved slug", { slug: "api" }, "body.slug"],
  ["reserved slug in other case", { slug: "HealthZ" }, "body.slug"],
  ["reserved slug metrics", { slug: "metrics" }, "body.slug"],
  ["slug with a space", { slug: "a b" }, "body.slug"],
  ["slug with a slash", { slug: "a/b" }, "body.slug"],
  ["slug with a dot", { slug: "openapi.json" }, "body.slug"],
  ["slug with a non-ASCII letter", { slug: "caf\u00e9" }, "body.slug"],
  ["slug with a plus", { slug: "abc+" }, "body.slug"],
  ["empty slug", { slug: "" }, "body.slug"],
  ["slug of 65 chars", { slug: "a".repeat(65) }, "body.slug"],
  ["unknown domain", { domain: "evil.example" }, "body.domain"],
  ["expiresAt in the past", { expiresAt: "2020-01-01T00:00:00Z" }, "body.expiresAt"],
  ["expiresAt not a date", { expiresAt: "tomorrow" }, "body.expiresAt"],
  ["expiresAt without offset", { expiresAt: "2099-01-01T00:00:00" }, "body.expiresAt"],
  ["maxClicks 0", { maxClicks: 0 }, "body.maxClicks"],
  ["maxClicks negative", { maxClicks: -1 }, "body.maxClicks"],
  ["maxClicks fractional", { maxClicks: 1.5 }, "body.maxClicks"],
  ["maxClicks as a string", { maxClicks: "5" }, "body.maxClicks"],
  ["redirectStatus 303", { redirectStatus: 303 }, "body.redirectStatus"],
  ["redirectStatus 200", { redirectStatus: 200 }, "body.redirectStatus"],
  ["redirectStatus as a string", { redirectStatus: "301" }, "body.redirectStatus"],
  ["cacheControl with CR/LF", { cacheControl: "no-cache\r\nSet-Cookie: a=b" }, "body.cacheControl"],
  ["cacheControl with LF", { cacheControl: "no-cache\nX: y" }, "body.cacheControl"],
  ["cacheControl empty", { cacheControl: "" }, "body.cacheControl"],
  ["cacheControl non-ASCII", { cacheControl: "max-age=\u00b9" }, "body.cacheControl"],
  ["title too long", { title: "t".repeat(201) }, "body.title"],
  ["title with NUL", { title: "a\u0000b" }, "body.title"],
  ["tags not an array", { tags: "launch" }, "body.tags"],
  ["tag with a comma", { tags: ["a,b"] }, "body.tags.0"],
  ["repeated tag", { tags: ["a", "a"] }, "body.tags"],
  ["too many tags", { tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, "body.tags"],
  ["empty password", { password: "" }, "body.password"],
  ["utm with an unknown key", { utm: { utm_foo: "x" } }, "body.utm.utm_foo"],
  ["utm value empty", { utm: { utm_source: "" } }, "body.utm.utm_source"],
  ["utm value with NUL", { utm: { utm_source: "a\u0000" } }, "body.utm.utm_source"],
  ["unknown body field", { owner: "someone-else" }, "body.owner"],
  ["workspaceId smuggled in", { workspaceId: crypto.randomUUID() }, "body.workspaceId"],
  ["clickCount smuggled in", { clickCount: 0 }, "body.clickCount"],
];

describe("links API: every invalid input is a 4xx problem naming the field", () => {
  let t: TestApp;
  let api: Api;

  beforeAll(async () => {
    t = await startTestApp({
      ...roomyLimits,
      SHORT_DOMAINS: "localhost,sho.rt",
      URL_BLOCKLIST: "evil.example, malware.test",
    });
    api = apiAs(t, (await tenant(t, "acme")).key);
  });
  afterAll(() => t?.close());

  it.each(badBodies)("POST /links refuses %s", async (_label, patch, field, status = 400) => {
    const body = { url: ok, ...patch };
    const res = await api.post("/links", body);
    const problem = await expectProblem(res, status, field);
    expect(problem.code).toBe("VALIDATION_FAILED");
    expect(problem.type).toBe("https://edgelink.dev/problems/validation-failed");
    expect(problem.instance).toBe("/api/v1/links");
  });

  it.each(badBodies.filter(([, body]) => !("url" in body && body.url === undefined)))(
    "PATCH /links/:id refuses %s",
    async (_label, patch, field, status = 400) => {
      const link = await api.create({ url: ok });
      const res = await api.patch(`/links/${link.id}`, { title: "changed", ...patch });
      await expectProblem(res, status, field);
      // Nothing of a refused change is kept.
      expect((await (await api.get(`/links/${link.id}`)).json()).title).toBeNull();
    },
  );

  it("refuses a blocklisted host and any of its subdomains with 422 url-blocked", async () => {
    for (const url of [
      "https://evil.example/",
      "https://login.evil.example/reset",
      "http://A.B.EVIL.EXAMPLE./x",
      "https://malware.test:8443/",
    ]) {
      const problem = await expectProblem(await api.post("/links", { url }), 422, "body.url");
      expect(problem.type).toMatch(/\/url-blocked$/);
      expect(problem.code).toBe("URL_BLOCKED");
    }
    const inRule = await api.post("/links", {
      url: ok,
      rules: [{ country: ["FR"], url: "https://evil.example" }],
    });
    expect((await expectProblem(inRule, 422, "body.rules.0.url")).type).toMatch(/\/url-blocked$/);
    const link = await api.create({ url: ok });
    const patched = await api.patch(`/links/${link.id}`, { expiredUrl: "https://x.evil.example/" });
    expect((await expectProblem(patched, 422, "body.expiredUrl")).type).toMatch(/\/url-blocked$/);
    // A host that only ends with the same letters is someone else's.
    expect((await api.post("/links", { url: "https://notevil.example/" })).status).toBe(201);
  });

  it("answers 409 slug-taken on create and on patch, whoever owns the slug", async () => {
    const slug = uniqueSlug("taken");
    await api.create({ url: ok, slug });
    const again = await expectProblem(await api.post("/links", { url: ok, slug }), 409);
    expect(again).toMatchObject({ code: "SLUG_TAKEN", type: "https://edgelink.dev/problems/slug-taken" });
    expect(again.detail).toContain(slug);
    const other = apiAs(t, (await tenant(t, "globex")).key);
    expect((await other.post("/links", { url: ok, slug })).status).toBe(409);
    const mine = await api.create({ url: ok });
    expect((await api.patch(`/links/${mine.id}`, { slug })).status).toBe(409);
    expect((await (await api.get(`/links/${mine.id}`)).json()).slug).toBe(mine.slug);
    // Slugs are case-sensitive: another case is another slug.
    expect((await api.post("/links", { url: ok, slug: slug.toUpperCase() })).status).toBe(201);
    // The same slug on another of our domains is free.
    expect((await api.post("/links", { url: ok, slug, domain: "sho.rt" })).status).toBe(201);
  });

  it("refuses an empty PATCH, naming the body", async () => {
    const link = await api.create({ url: ok });
    await expectProblem(await api.patch(`/links/${link.id}`, {}), 400, "body");
  });

  it("answers malformed JSON with a 400 validation problem naming the body, like any other bad input", async () => {
    for (const text of ["{not json", '{"url": "https://example.com"', "", "\u0000"]) {
      const res = await api.post("/links", text);
      const problem = await expectProblem(res, 400, "body");
      expect(problem).toMatchObject({
        code: "VALIDATION_FAILED",
        type: "https://edgelink.dev/problems/validation-failed",
        errors: [{ field: "body", message: "is not valid JSON" }],
      });
    }
    const patched = await api.send("PATCH", `/links/${(await api.create({ url: ok })).id}`, "{");
    expect((await expectProblem(patched, 400, "body")).code).toBe("VALIDATION_FAILED");
    for (const text of ["[]", "null", '"https://example.com"', "42"]) {
      await expectProblem(await api.post("/links", text), 400, "body");
    }
  });

  it("answers a body that is not JSON with 415", async () => {
    for (const type of [
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
    ]) {
      const res = await api.send("POST", "/links", JSON.stringify({ url: ok }), { "Content-Type": type });
      const problem = await expectProblem(res, 415);
      expect(problem.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    }
  });

  it("names each bad query parameter of the list", async () => {
    const cases: [string, string][] = [
      ["limit=0", "query.limit"],
      ["limit=101", "query.limit"],
      ["limit=-5", "query.limit"],
      ["limit=2.5", "query.limit"],
      ["limit=ten", "query.limit"],
      ["limit=", "query.limit"],
      ["cursor=not-a-cursor", "query.cursor"],
      [`cursor=${btoa("1700000000000:not-a-uuid")}`, "query.cursor"],
      [`cursor=${btoa(`NaN:${crypto.randomUUID()}`)}`, "query.cursor"],
      [`cursor=${"A".repeat(201)}`, "query.cursor"],
      ["tag=", "query.tag"],
      [`tag=${"t".repeat(51)}`, "query.tag"],
      ["tag=a%00b", "query.tag"],
      ["q=", "query.q"],
      [`q=${"q".repeat(101)}`, "query.q"],
      ["q=a%00b", "query.q"],
    ];
    for (const [query, field] of cases) {
      const problem = await expectProblem(await api.get(`/links?${query}`), 400, field);
      expect(problem.code, query).toBe("VALIDATION_FAILED");
      if (field === "query.limit") {
        expect(problem.detail, query).toBe("query.limit: must be a whole number from 1 to 100");
      }
    }
  });

  it("names a non-uuid id on every /links/:id route, and bad QR options", async () => {
    for (const id of ["123", "not-a-uuid", `${crypto.randomUUID()}x`, "%00"]) {
      await expectProblem(await api.get(`/links/${id}`), 400, "param.id");
      await expectProblem(await api.patch(`/links/${id}`, { title: "x" }), 400, "param.id");
      await expectProblem(await api.delete(`/links/${id}`), 400, "param.id");
      await expectProblem(await api.get(`/links/${id}/qr`), 400, "param.id");
    }
    const link = await api.create({ url: ok });
    for (const [query, field] of [
      ["format=gif", "query.format"],
      ["size=63", "query.size"],
      ["size=2049", "query.size"],
      ["size=big", "query.size"],
    ] as const) {
      const problem = await expectProblem(await api.get(`/links/${link.id}/qr?${query}`), 400, field);
      if (field === "query.size")
        expect(problem.detail, query).toBe("query.size: must be a whole number from 64 to 2048");
    }
  });

  it("answers 404 for a well-formed id that is no link", async () => {
    const id = crypto.randomUUID();
    for (const res of [
      await api.get(`/links/${id}`),
      await api.patch(`/links/${id}`, { title: "x" }),
      await api.delete(`/links/${id}`),
      await api.get(`/links/${id}/qr`),
    ]) {
      expect((await expectProblem(res, 404)).code).toBe("NOT_FOUND");
    }
  });

  it("never lets CR/LF into Location: an encoded %0d%0a stays percent-encoded in the redirect", async () => {
    const link = await api.create({ url: "https://example.com/a%0d%0aSet-Cookie:%20pwned=1" });
    expect(link.url).toBe("https://example.com/a%0d%0aSet-Cookie:%20pwned=1");
    const res = await t.app.request(`/${link.slug}`);
    expect(res.status).toBe(302);
    const location = res.headers.get("location")!;
    expect(location).toBe("https://example.com/a%0d%0aSet-Cookie:%20pwned=1");
    expect(location).not.toMatch(/[\r\n]/);
    expect(res.headers.get("set-cookie")).toBeNull();
    // Also through UTM values and rule targets, which are appended or chosen at redirect time.
    const utm = await api.create({
      url: "https://example.com/u",
      utm: { utm_source: "a\r\nSet-Cookie: b=1", utm_campaign: "x y&z" },
      rules: [{ device: ["mobile"], url: "https://m.example.com/%0D%0A" }],
    });
    const viaUtm = await t.app.request(`/${utm.slug}`);
    expect(viaUtm.headers.get("location")).toBe(
      "https://example.com/u?utm_source=a%0D%0ASet-Cookie%3A+b%3D1&utm_campaign=x+y%26z",
    );
    expect(viaUtm.headers.get("set-cookie")).toBeNull();
    const mobile = await t.app.request(`/${utm.slug}`, { headers: { "User-Agent": "iPhone Mobile" } });
    expect(mobile.headers.get("location")).not.toMatch(/[\r\n]/);
    // Unicode and spaces are sent in their encoded form too.
    const unicode = await api.create({ url: "https://example.com/ä ö?q=ü" });
    expect((await t.app.request(`/${unicode.slug}`)).headers.get("location")).toBe(
      "https://example.com/%C3%A4%20%C3%B6?q=%C3%BC",
    );
  });
});

/** A small seeded PRNG (mulberry32), so a failing fuzz run can be replayed from its seed. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  return { next, pick };
}

const weirdStrings = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\r\n",
  "\ud800",
  "💥".repeat(50),
  "x".repeat(3000),
  "javascript:alert(1)",
  "https://example.com/",
  "https://localhost/x",
  "http://[::1]/",
  "https://example.com/%00%0d%0a",
  "2020-01-01T00:00:00Z",
  "2999-01-01T00:00:00Z",
  "99999-01-01T00:00:00Z",
  "null",
  "__proto__",
  "constructor",
  "'; drop table links; --",
  "%",
  "_",
  "\\",
  "api",
  "localhost",
  "DE",
  "links:read",
];
const weirdNumbers = [0, -1, 1, 1.5, 301, 303, 308, 2 ** 31, 2 ** 53 + 1, -0, 1e308, Number.MIN_VALUE];
/** Each route's fields, and a valid body to mutate: one weird field in an otherwise valid body reaches deepest. */
const routes = {
  create: {
    fields: [
      "url",
      "slug",
      "domain",
      "title",
      "tags",
      "expiresAt",
      "expiredUrl",
      "maxClicks",
      "redirectStatus",
      "cacheControl",
      "password",
      "utm",
      "rules",
    ],
    valid: () => ({ url: "https://example.com/fuzz" }),
  },
  patch: {
    fields: [
      "url",
      "slug",
      "domain",
      "title",
      "tags",
      "expiresAt",
      "expiredUrl",
      "maxClicks",
      "redirectStatus",
      "cacheControl",
      "password",
      "utm",
      "rules",
    ],
    valid: () => ({ title: "fuzzed" }),
  },
  key: { fields: ["name", "scopes", "expiresAt"], valid: () => ({ name: "fuzz", scopes: ["links:read"] }) },
} as const;
const strayFields = [
  "__proto__",
  "constructor",
  "id",
  "workspaceId",
  "clickCount",
  "utm_source",
  "device",
  "country",
];

function randomValue(r: ReturnType<typeof prng>, depth = 0): unknown {
  const kind = r.pick(["string", "string", "number", "bool", "null", "array", "object"] as const);
  if (depth > 2 && (kind === "array" || kind === "object")) return r.pick(weirdStrings);
  switch (kind) {
    case "string":
      return r.pick(weirdStrings);
    case "number":
      return r.pick(weirdNumbers);
    case "bool":
      return r.next() < 0.5;
    case "null":
      return null;
    case "array":
      return Array.from({ length: Math.floor(r.next() * 4) }, () => randomValue(r, depth + 1));
    case "object": {
      const object: Record<string, unknown> = {};
      for (let i = Math.floor(r.next() * 4); i > 0; i--) {
        const key = r.pick([...routes.create.fields, ...strayFields]);
        Object.defineProperty(object, key, {
          value: randomValue(r, depth + 1),
          enumerable: true,
          configurable: true,
        });
      }
      return object;
    }
  }
}

/** A valid body for `route` with one to three fields replaced or added at random, or (rarely) not JSON at all. */
function randomBody(r: ReturnType<typeof prng>, route: keyof typeof routes): string {
  if (r.next() < 0.05) return r.pick(["{", "[]", "null", "1", '"x"', '{"url":}', "\u0000"]);
  const body: Record<string, unknown> = routes[route].valid();
  for (let i = 1 + Math.floor(r.next() * 3); i > 0; i--) {
    const key = r.next() < 0.9 ? r.pick(routes[route].fields) : r.pick(strayFields);
    // defineProperty, so "__proto__" becomes an own key that JSON.stringify sends.
    Object.defineProperty(body, key, { value: randomValue(r), enumerable: true, configurable: true });
  }
  return JSON.stringify(body);
}

describe("links API: no input makes it answer 5xx", () => {
  let t: TestApp;
  let key: string;
  let api: Api;
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

  beforeAll(async () => {
    t = await startTestApp({ ...roomyLimits });
    key = (await tenant(t, "fuzz")).key;
    api = apiAs(t, key);
  });
  afterAll(() => t?.close());

  it(`200 random bodies to POST /links, PATCH /links/:id and POST /keys (seed ${seed})`, async () => {
    const r = prng(seed);
    const link = await api.create({ url: "https://example.com/target" });
    const statuses = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const route = r.pick(["create", "patch", "key"] as const);
      const body = randomBody(r, route);
      const [method, path] = (
        {
          create: ["POST", "/links"],
          patch: ["PATCH", `/links/${link.id}`],
          key: ["POST", "/keys"],
        } as const
      )[route];
      const res = await api.send(method, path, body);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(
        res.status,
        `seed ${seed}, #${i}: ${path} ${body.slice(0, 300)}\n${await res.clone().text()}`,
      ).toBeLessThan(500);
      if (res.status >= 400) expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
    // The generator reaches both outcomes, or it proves little.
    expect([...statuses.keys()].some((s) => s < 300)).toBe(true);
    expect([...statuses.keys()].some((s) => s >= 400)).toBe(true);
  });

  it("regression: a NUL in a key's name is a 400 naming body.name, not a 500 from Postgres", async () => {
    const res = await api.post("/keys", { name: "ci\u0000bot", scopes: ["links:read"] });
    await expectProblem(res, 400, "body.name");
  });

  it(`100 random queries and paths (seed ${seed})`, async () => {
    const r = prng(seed + 1);
    // Lone surrogates cannot be percent-encoded; every other weird string can.
    const pieces = [...weirdStrings.filter((s) => s !== "\ud800"), ...weirdNumbers.map(String), "%zz", "%00"];
    const piece = () => {
      const value = r.pick(pieces);
      return value.startsWith("%") ? value : encodeURIComponent(value);
    };
    for (let i = 0; i < 100; i++) {
      const path = r.pick([
        () => `/api/v1/links?limit=${piece()}&cursor=${piece()}`,
        () => `/api/v1/links?tag=${piece()}&q=${piece()}`,
        () => `/api/v1/links?cursor=${btoa(`${piece()}:${crypto.randomUUID()}`)}`,
        () => `/api/v1/links/${piece()}`,
        () => `/api/v1/links/${crypto.randomUUID()}/qr?format=${piece()}&size=${piece()}`,
        () => `/${piece()}`,
        () => `/${piece()}+`,
      ])();
      const res = await t.app.request(path, { headers: { Authorization: `Bearer ${key}` } });
      expect(res.status, `seed ${seed}, #${i}: ${path}\n${await res.clone().text()}`).toBeLessThan(500);
    }
  });
});
