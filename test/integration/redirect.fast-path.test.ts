import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LinkInput } from "../../src/links/link-service";
import { createRedirectFastPath, type FastRedirect } from "../../src/links/redirect-fast-path";
import { rowsOf } from "../../src/platform/db/database";
import { withFastRedirects } from "../../src/platform/node/fast-redirect-listener";
import { startTestApp, type TestApp } from "../support/app";

const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";
const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const slug = () => `f${randomUUID().slice(0, 10)}`;

/** Fields whose values legitimately differ between two answers (per request or per second). */
const varying = new Set(["date", "x-request-id", "ratelimit", "ratelimit-remaining", "ratelimit-reset"]);
const comparable = (res: Response) =>
  Object.fromEntries([...res.headers].filter(([name]) => !varying.has(name)).sort());

/**
 * The Node server as `npm start` wires it (fast path in front of the app) on this run's backing
 * services, recording which requests the fast path answered.
 */
async function startFastServer(t: TestApp) {
  const serveFast = createRedirectFastPath(t.services);
  const answered: string[] = [];
  const spied = Object.assign(
    (request: Parameters<typeof serveFast>[0]): FastRedirect | undefined => {
      const answer = serveFast(request);
      if (answer) answered.push(request.target);
      return answer;
    },
    { warm: serveFast.warm },
  );
  const server = createServer(withFastRedirects(spied, getRequestListener(t.app.fetch)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    answered,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
    },
  };
}

async function createLink(t: TestApp, workspaceId: string, input: Partial<LinkInput> = {}) {
  const result = await t.services.linkService.create(workspaceId, {
    url: "https://example.com/",
    slug: slug(),
    ...input,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.failure));
  return result.value;
}

async function metricOf(t: TestApp, name: string, labels: string) {
  const text = await (await t.app.request("/metrics")).text();
  return Number(text.match(new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, "m"))?.[1] ?? 0);
}

describe("redirect fast path (Node)", () => {
  let t: TestApp;
  let fastServer: Awaited<ReturnType<typeof startFastServer>> | undefined;
  let base: string;
  let workspaceId: string;
  let answeredFast: string[] = [];

  const create = (input: Partial<LinkInput> = {}) => createLink(t, workspaceId, input);
  const get = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { redirect: "manual", ...init });
  /** Requests `path` and says whether the fast path answered it. */
  const served = async (path: string, init: RequestInit = {}) => {
    const before = answeredFast.length;
    const res = await get(path, init);
    return { res, fast: answeredFast.length > before };
  };
  const metric = (name: string, labels: string) => metricOf(t, name, labels);

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_REDIRECT: "1000/60s" });
    workspaceId = (await t.services.workspaces.create({ name: "fast" })).id;
    fastServer = await startFastServer(t);
    ({ base, answered: answeredFast } = fastServer);
  });
  afterAll(async () => {
    await fastServer?.close();
    await t?.close();
  });

  it("answers a cached link itself, with exactly the fields the app sends", async () => {
    const link = await create({
      url: "https://example.com/p?utm_source=keep&x=1",
      redirectStatus: 308,
      cacheControl: "public, max-age=300",
      utm: { utm_source: "newsletter", utm_medium: "email" },
      rules: [{ device: ["mobile"], url: "https://m.example.com/p" }],
    });
    // Not yet in this process's LRU: looked up through Redis and Postgres, then answered here.
    const first = await served(`/${link.slug}`, { headers: { "User-Agent": firefox } });
    expect(first.fast).toBe(true);
    expect(first.res.headers.get("location")).toBe(
      "https://example.com/p?utm_source=keep&x=1&utm_medium=email",
    );
    for (const userAgent of [firefox, iphone]) {
      const app = await t.app.request(`/${link.slug}`, { headers: { "User-Agent": userAgent } });
      const fast = await served(`/${link.slug}?ignored=1`, { headers: { "User-Agent": userAgent } });
      expect(fast.fast).toBe(true);
      expect(fast.res.status).toBe(app.status);
      expect(comparable(fast.res)).toMatchObject(comparable(app));
      expect(fast.res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
      expect(fast.res.headers.get("ratelimit")).toMatch(/^"redirect";r=\d+;t=\d+$/);
    }
    const mobile = await get(`/${link.slug}`, { headers: { "User-Agent": iphone } });
    expect(mobile.headers.get("location")).toBe(
      "https://m.example.com/p?utm_source=newsletter&utm_medium=email",
    );
    expect((await get(`/${link.slug}`)).headers.get("location")).toBe(
      "https://example.com/p?utm_source=keep&x=1&utm_medium=email",
    );
  });

  it("keeps a valid incoming X-Request-Id and replaces an unsafe one, as the app does", async () => {
    const link = await create();
    await get(`/${link.slug}`);
    const kept = await served(`/${link.slug}`, { headers: { "X-Request-Id": "trace-42=ok" } });
    expect(kept.fast).toBe(true);
    expect(kept.res.headers.get("x-request-id")).toBe("trace-42=ok");
    const replaced = await served(`/${link.slug}`, { headers: { "X-Request-Id": "no spaces; please" } });
    expect(replaced.fast).toBe(true);
    expect(replaced.res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("reads request fields in any letter case, and repeated lines joined, as the app reads them", async () => {
    const link = await create();
    await get(`/${link.slug}`);
    const { port } = new URL(base);
    /** One raw HTTP/1.1 exchange, so that names keep the case and the repeats written here. */
    const raw = (lines: string[]) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), "127.0.0.1", () => {
          socket.end(`GET /${link.slug} HTTP/1.1\r\n${lines.join("\r\n")}\r\nConnection: close\r\n\r\n`);
        });
        let answer = "";
        socket.setEncoding("utf8");
        socket.on("data", (chunk) => {
          answer += chunk;
        });
        socket.on("end", () => resolve(answer));
        socket.on("error", reject);
      });
    const field = (answer: string, name: string) =>
      answer
        .split("\r\n")
        .find((line) => line.toLowerCase().startsWith(`${name}:`))
        ?.slice(name.length + 1)
        .trim();

    const before = answeredFast.length;
    const oddCase = await raw([`hOST: 127.0.0.1:${port}`, "x-REQUEST-id: trace-7"]);
    expect(answeredFast.length).toBe(before + 1);
    expect(oddCase.startsWith("HTTP/1.1 302 ")).toBe(true);
    expect(field(oddCase, "location")).toBe("https://example.com/");
    expect(field(oddCase, "x-request-id")).toBe("trace-7");

    // Two lines are one field, "a, b": not a valid request id for the app, so neither path keeps it.
    const app = await t.app.request(`/${link.slug}`, {
      headers: new Headers([
        ["X-Request-Id", "a"],
        ["X-Request-Id", "b"],
      ]),
    });
    expect(app.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const repeated = await raw([`Host: 127.0.0.1:${port}`, "X-Request-Id: a", "X-Request-Id: b"]);
    expect(answeredFast.length).toBe(before + 2);
    expect(field(repeated, "x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("counts the same request metrics and hands the same clicks to analytics", async () => {
    const link = await create();
    await get(`/${link.slug}`);
    await t.services.clickRecorder.drain?.();
    const requests = await metric("http_requests_total", 'method="GET",route="/:slug",status="302"');
    const humans = await metric("clicks_served_total", 'traffic="human"');
    const heads = await metric("clicks_served_total", 'traffic="head"');
    for (let i = 0; i < 5; i += 1) {
      expect((await served(`/${link.slug}`, { headers: { "User-Agent": firefox } })).fast).toBe(true);
    }
    const head = await served(`/${link.slug}`, { method: "HEAD", headers: { "User-Agent": firefox } });
    expect(head.fast).toBe(true);
    expect(head.res.status).toBe(302);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await t.services.clickRecorder.drain?.();
    expect(await metric("http_requests_total", 'method="GET",route="/:slug",status="302"')).toBe(
      requests + 5,
    );
    expect(await metric("clicks_served_total", 'traffic="human"')).toBe(humans + 5);
    expect(await metric("clicks_served_total", 'traffic="head"')).toBe(heads + 1);
  });

  it("leaves every other case to the app: passwords, maxClicks, expiry, unknown slugs, fixed routes", async () => {
    const locked = await create({ password: "correct horse" });
    const limited = await create({ maxClicks: 2 });
    const expiring = await create({ expiresAt: new Date(Date.now() + 1_500) });
    for (const link of [locked, limited, expiring]) await get(`/${link.slug}`);

    const form = await served(`/${locked.slug}`);
    expect(form.fast).toBe(false);
    expect(form.res.status).toBe(401);
    expect(await form.res.text()).toContain("<form");

    // maxClicks is counted in Postgres (the warm-up above had no user agent: a bot, never counted).
    const limits = [];
    for (let i = 0; i < 3; i += 1)
      limits.push(await served(`/${limited.slug}`, { headers: { "User-Agent": firefox } }));
    expect(limits.map(({ res }) => res.status)).toEqual([302, 302, 410]);
    expect(limits.some(({ fast }) => fast)).toBe(false);

    await new Promise((resolve) => setTimeout(resolve, 1_600));
    const gone = await served(`/${expiring.slug}`);
    expect(gone.fast).toBe(false);
    expect(gone.res.status).toBe(410);

    for (const path of ["/healthz", "/nope-no-such-link", `/${locked.slug}/`, "/api", "/openapi.json"]) {
      const answer = await served(path);
      expect(answer.fast, path).toBe(false);
      expect(answer.res.status, path).not.toBe(302);
    }
  });

  it("looks a slug up once through the other tiers, answers a link itself and leaves a miss to the app", async () => {
    const loads = async () => {
      const text = await (await t.app.request("/metrics")).text();
      return Number(text.match(/^link_cache_db_loads_total (\d+)$/m)?.[1] ?? 0);
    };
    const link = await create({ url: "https://example.com/cold" });
    const before = await loads();
    const answers = [];
    for (let i = 0; i < 3; i += 1) answers.push(await served(`/${link.slug}`));
    expect(answers.map(({ res }) => res.status)).toEqual([302, 302, 302]);
    expect(answers.every(({ fast }) => fast)).toBe(true);
    expect(answers[0]!.res.headers.get("location")).toBe("https://example.com/cold");
    expect(await loads()).toBe(before + 1);

    // An unknown slug: one Postgres read, remembered; the app answers the 404 problem each time.
    const unknown = `/${slug()}`;
    const misses = [await served(unknown), await served(unknown)];
    expect(misses.map(({ res }) => res.status)).toEqual([404, 404]);
    expect(misses.some(({ fast }) => fast)).toBe(false);
    expect(misses[0]!.res.headers.get("content-type")).toContain("application/problem+json");
    expect(await loads()).toBe(before + 2);
  });

  it("when the lookup fails, the app answers 503 with Retry-After, and the next requests go to it directly", async () => {
    const link = await create();
    const { linkService } = t.services;
    const resolve = linkService.resolve;
    let lookups = 0;
    linkService.resolve = async () => {
      lookups += 1;
      throw new Error("database unreachable");
    };
    try {
      const failed = [await served(`/${link.slug}`), await served(`/${link.slug}`)];
      expect(failed.map(({ res }) => res.status)).toEqual([503, 503]);
      expect(failed[0]!.res.headers.get("retry-after")).toBe("5");
      expect(failed[0]!.res.headers.get("content-type")).toContain("application/problem+json");
      // The first: the fast path's lookup, then the app's; the second: the app's alone.
      expect(lookups).toBe(3);
    } finally {
      linkService.resolve = resolve;
    }
    await new Promise((done) => setTimeout(done, 1_050));
    const back = await served(`/${link.slug}`);
    expect(back.res.status).toBe(302);
    expect(back.fast).toBe(true);
  });

  it("never serves an edited or deleted link from this process's LRU", async () => {
    const link = await create({ url: "https://example.com/old" });
    await get(`/${link.slug}`);
    expect((await served(`/${link.slug}`)).fast).toBe(true);
    const edited = await t.services.linkService.update(workspaceId, link.id, {
      url: "https://example.com/new",
    });
    expect(edited.ok).toBe(true);
    expect((await get(`/${link.slug}`)).headers.get("location")).toBe("https://example.com/new");
    await t.services.linkService.remove(workspaceId, link.id);
    const after = await served(`/${link.slug}`);
    expect(after.fast).toBe(false);
    expect(after.res.status).toBe(404);
  });

  it("with CLICK_RECORDING=off answers itself, counts each redirect, still targets, and stores no click", async () => {
    const quiet = await startTestApp({ RATE_LIMIT_REDIRECT: "1000/60s", CLICK_RECORDING: "off" });
    const quietServer = await startFastServer(quiet);
    try {
      const ws = (await quiet.services.workspaces.create({ name: "unrecorded" })).id;
      const plain = await createLink(quiet, ws);
      const targeted = await createLink(quiet, ws, {
        rules: [{ device: ["mobile"], url: "https://m.example.com/" }],
      });
      const unrecorded = () => metricOf(quiet, "clicks_served_total", 'traffic="unrecorded"');
      const at = (path: string, userAgent = firefox) =>
        fetch(`${quietServer.base}${path}`, { redirect: "manual", headers: { "User-Agent": userAgent } });

      // The first request of each slug fills the LRU; every one after is the fast path's.
      await at(`/${plain.slug}`);
      await at(`/${targeted.slug}`);
      const before = await unrecorded();
      const fastBefore = quietServer.answered.length;
      const answers = [
        await at(`/${plain.slug}`),
        await at(`/${plain.slug}`),
        await at(`/${targeted.slug}`, iphone),
        await at(`/${targeted.slug}`, firefox),
      ];
      expect(quietServer.answered.length - fastBefore).toBe(4);
      expect(answers.map((res) => res.status)).toEqual([302, 302, 302, 302]);
      expect(answers.map((res) => res.headers.get("location"))).toEqual([
        "https://example.com/",
        "https://example.com/",
        "https://m.example.com/",
        "https://example.com/",
      ]);
      expect(await unrecorded()).toBe(before + 4);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const stored = rowsOf<{ n: number }>(
        await quiet.services.db.primary.execute(
          sql`select count(*)::int as n from clicks where link_id in (${plain.id}, ${targeted.id})`,
        ),
      );
      expect(Number(stored[0]!.n)).toBe(0);
    } finally {
      await quietServer.close();
      await quiet.close();
    }
  });

  it("hands a client at its limit to the app, which refuses it with the 429 problem", async () => {
    // A client of its own: with Redis, counts are shared with every other test's 127.0.0.1.
    const limitedApp = await startTestApp({
      RATE_LIMIT_REDIRECT: "3/60s",
      CLIENT_IP_HEADER: "X-Test-Client",
    });
    const client = `10.${[1, 2, 3].map(() => Math.floor(Math.random() * 250)).join(".")}`;
    const serveFast = createRedirectFastPath(limitedApp.services);
    let fastAnswers = 0;
    const limitedServer = createServer(
      withFastRedirects((request) => {
        const answer = serveFast(request);
        if (answer) fastAnswers += 1;
        return answer;
      }, getRequestListener(limitedApp.app.fetch)),
    );
    await new Promise<void>((resolve) => limitedServer.listen(0, "127.0.0.1", resolve));
    try {
      const ws = (await limitedApp.services.workspaces.create({ name: "limited" })).id;
      const made = await limitedApp.services.linkService.create(ws, {
        url: "https://example.com/",
        slug: slug(),
      });
      if (!made.ok) throw new Error("create failed");
      const url = `http://127.0.0.1:${(limitedServer.address() as AddressInfo).port}/${made.value.slug}`;
      const statuses = [];
      for (let i = 0; i < 5; i += 1) {
        statuses.push(await fetch(url, { redirect: "manual", headers: { "X-Test-Client": client } }));
      }
      expect(statuses.map((res) => res.status)).toEqual([302, 302, 302, 429, 429]);
      // The first filled the LRU through the app. With Redis, the local-first limiter decides alone
      // only below 80% of the limit (2 of 3): the third asks Redis, so the app answers it too.
      expect(fastAnswers).toBe(limitedApp.services.config.REDIS_URL ? 1 : 2);
      const refused = statuses[3]!;
      expect(refused.headers.get("content-type")).toContain("application/problem+json");
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(refused.headers.get("ratelimit")).toMatch(/^"redirect";r=0;t=\d+$/);
    } finally {
      await new Promise((resolve) => limitedServer.close(resolve));
      limitedServer.closeAllConnections();
      await limitedApp.close();
    }
  });
});
