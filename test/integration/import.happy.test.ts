import { randomUUID } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { count, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { links, workspaces } from "../../db/schema";
import { type Api, apiAs, roomyLimits, type Tenant, tenant } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";
import { handFedBody, ndjsonLines, postBulk, streamedBody } from "../support/ndjson";

interface Result {
  line: number;
  status: "created" | "error";
  id?: string;
  slug?: string;
  shortUrl?: string;
  error?: { code: string; detail: string; errors?: { field: string; message: string }[] };
}

setFlagsFromString("--expose-gc");
/** A full garbage collection, then the heap still in use. */
const liveHeapNow = (): number => {
  (runInNewContext("gc") as () => void)();
  return process.memoryUsage().heapUsed;
};

const lineCount = 100_000;
const run = randomUUID().slice(0, 8);
const taken = `taken-${run}`;

/** What line `i` of the big file holds, and what its result must be (null: no result, a blank line). */
function lineOf(i: number): { text: string; expect: { code: string; field?: string } | "created" | null } {
  switch (i % 1000) {
    case 7:
      return { text: '{"url": "https://example.com/broken', expect: { code: "VALIDATION_FAILED" } };
    case 8:
      return {
        text: JSON.stringify({ url: "not a url" }),
        expect: { code: "VALIDATION_FAILED", field: "body.url" },
      };
    case 9:
      return {
        text: JSON.stringify({ url: "https://example.com/", slug: "api" }),
        expect: { code: "VALIDATION_FAILED", field: "body.slug" },
      };
    case 10:
      return {
        text: JSON.stringify({ url: "https://example.com/", slug: taken }),
        expect: { code: "SLUG_TAKEN" },
      };
    case 11: // the slug of line i - 5, earlier in this very file
      return {
        text: JSON.stringify({ url: "https://example.com/", slug: `${run}-${i - 5}` }),
        expect: { code: "SLUG_TAKEN" },
      };
    case 12:
      return { text: "   ", expect: null };
    case 13:
      return {
        text: JSON.stringify({ url: "https://example.com/", owner: "x" }),
        expect: { code: "VALIDATION_FAILED", field: "body.owner" },
      };
    case 14:
      return {
        text: JSON.stringify({ url: "https://blocked.example/x" }),
        expect: { code: "URL_BLOCKED", field: "body.url" },
      };
    default:
      return {
        text: JSON.stringify(
          i % 2 === 0
            ? {
                url: `https://example.com/p/${i}?q=${run}`,
                slug: `${run}-${i}`,
                title: `Line ${i}`,
                tags: ["import"],
              }
            : { url: `https://example.com/g/${i}` },
        ),
        expect: "created",
      };
  }
}

function* bigFile(): Generator<string> {
  let piece = "";
  for (let i = 1; i <= lineCount; i++) {
    piece += `${lineOf(i).text}\n`;
    if (i % 250 === 0) {
      yield piece;
      piece = "";
    }
  }
  if (piece) yield piece;
}

describe("bulk import: the happy paths", () => {
  let t: TestApp;
  let acme: Tenant;
  let api: Api;

  beforeAll(async () => {
    t = await startTestApp({ ...roomyLimits, URL_BLOCKLIST: "blocked.example", SLUG_LENGTH: "10" });
    acme = await tenant(t, "importer");
    api = apiAs(t, acme.key);
    await api.create({ url: "https://example.com/taken", slug: taken });
  });
  afterAll(async () => {
    // A hundred thousand links would weigh on every later suite sharing this database.
    await t?.services.db.primary.delete(workspaces).where(eq(workspaces.id, acme.workspaceId));
    await t?.close();
  }, 60_000);

  it(`imports ${lineCount.toLocaleString("en")} NDJSON lines with bad ones mixed in: every good line created, every bad one reported by number, memory flat`, async () => {
    const created = new Uint8Array(lineCount + 1);
    const failures = new Map<number, Result["error"]>();
    const samples: NodeJS.MemoryUsage[] = [];
    /** The heap that is still reachable (after a full GC) every 10 000 results. */
    const liveHeap: number[] = [];
    const sample = () => samples.push(process.memoryUsage());
    sample();
    const sampler = setInterval(sample, 20);
    const started = performance.now();
    let results = 0;
    try {
      const res = await postBulk(t.app, acme.key, streamedBody(bigFile()));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
      for await (const result of ndjsonLines<Result>(res)) {
        results += 1;
        // Sampled as results arrive too: PGlite runs queries on this thread and starves the timer.
        if (results % 2_000 === 0) sample();
        if (results % 10_000 === 0) liveHeap.push(liveHeapNow());
        if (result.status === "created") created[result.line] = 1;
        else failures.set(result.line, result.error);
      }
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - started) / 1000;
    sample();

    let good = 0;
    for (let i = 1; i <= lineCount; i++) {
      const { expect: wanted } = lineOf(i);
      if (wanted === "created") {
        good += 1;
        if (!created[i]) expect.fail(`line ${i} was not created: ${JSON.stringify(failures.get(i))}`);
      } else if (wanted === null) {
        expect(created[i] || failures.has(i), `blank line ${i} has a result`).toBeFalsy();
      } else {
        const error = failures.get(i);
        expect(error?.code, `line ${i}`).toBe(wanted.code);
        if (wanted.field)
          expect(
            error?.errors?.map((e) => e.field),
            `line ${i}`,
          ).toContain(wanted.field);
      }
    }
    expect(results).toBe(lineCount - lineCount / 1000);
    const [stored] = await t.services.db.primary
      .select({ n: count() })
      .from(links)
      .where(eq(links.workspaceId, acme.workspaceId));
    expect(stored!.n).toBe(good + 1);

    // Flat: the heap still reachable after 90 000 more lines is what it was after the first 10 000
    // (a leak of even 200 bytes a line would show as 17 MB), and RSS stays within the bound.
    const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
    const peakRss = Math.max(...samples.map((s) => s.rss));
    const figures = {
      driver: t.services.db.driver,
      seconds: Number(seconds.toFixed(1)),
      linksPerSecond: Math.round(good / seconds),
      peakRssMb: mb(peakRss),
      rssGrowthMb: mb(peakRss - samples[0]!.rss),
      liveHeapMb: liveHeap.map(mb),
      liveHeapGrowthMb: Number(((Math.max(...liveHeap) - liveHeap[0]!) / 2 ** 20).toFixed(1)),
    };
    console.log(`[import 100k] ${JSON.stringify(figures)}`);
    expect(liveHeap).toHaveLength(9);
    expect(figures.liveHeapGrowthMb).toBeLessThan(10);
    // With PGlite the database itself lives in this process (its pages in WASM memory) and grows
    // with every row, so RSS speaks for the import only on a real Postgres.
    if (t.services.db.driver !== "pglite") expect(figures.rssGrowthMb).toBeLessThan(150);
  }, 300_000);

  it("imports CSV with quoted fields spanning lines, numbering each record by its first line", async () => {
    const csv = [
      "url,slug,title,tags,utm_source,maxClicks",
      `https://example.com/a,csv-a-${run},"Title, with comma",x;y,news,5`,
      `https://example.com/b,csv-b-${run},"multi`,
      `line ""quoted"" title",,,`,
      `not-a-url,csv-c-${run},,,,`,
      "https://example.com/d,,plain,,,abc",
      `https://example.com/e,csv-e-${run},,,,`,
      "",
    ].join("\r\n");
    const res = await postBulk(t.app, acme.key, csv, "text/csv; charset=utf-8");
    expect(res.status).toBe(200);
    const results: Result[] = [];
    for await (const result of ndjsonLines<Result>(res)) results.push(result);
    expect(results.map((r) => [r.line, r.status])).toEqual([
      [2, "created"],
      [3, "created"],
      [5, "error"],
      [6, "error"],
      [7, "created"],
    ]);
    expect(results[2]!.error?.errors?.[0]?.field).toBe("body.url");
    expect(results[3]!.error?.errors?.[0]?.field).toBe("body.maxClicks");
    const a = await (await api.get(`/links/${results[0]!.id}`)).json();
    expect(a).toMatchObject({
      title: "Title, with comma",
      tags: ["x", "y"],
      utm: { utm_source: "news" },
      maxClicks: 5,
    });
    const b = await (await api.get(`/links/${results[1]!.id}`)).json();
    expect(b.title).toBe('multi\r\nline "quoted" title');
    expect(results[4]).toMatchObject({
      slug: `csv-e-${run}`,
      shortUrl: `http://localhost:3000/csv-e-${run}`,
    });
  });

  it("streams: the first results arrive while the body is still being sent", async () => {
    const feed = handFedBody();
    feed.write(`${JSON.stringify({ url: "https://example.com/s1" })}\n{"url":\n`);
    const res = await postBulk(t.app, acme.key, feed.body);
    const lines = ndjsonLines<Result>(res);
    // Were the response waiting for the end of the body, these reads would never resolve.
    const first = await lines.next();
    const second = await lines.next();
    expect([first.value?.line, first.value?.status]).toEqual([1, "created"]);
    expect([second.value?.line, second.value?.status]).toEqual([2, "error"]);
    feed.write(`${JSON.stringify({ url: "https://example.com/s3" })}\n`);
    feed.close();
    const rest: Result[] = [];
    for await (const result of lines) rest.push(result);
    expect(rest.map((r) => [r.line, r.status])).toEqual([[3, "created"]]);
    // The created link redirects at once.
    const link = await (await api.get(`/links/${first.value!.id}`)).json();
    expect((await t.app.request(`/${link.slug}`)).headers.get("location")).toBe("https://example.com/s1");
  });
});
