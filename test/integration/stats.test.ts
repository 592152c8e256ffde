import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClickEvent } from "../../src/analytics/click-event";
import { ingestClicks } from "../../src/analytics/click-ingest";
import { updateLiveCounters } from "../../src/analytics/live-counters";
import { type Api, apiAs, expectProblem, keyFor, roomyLimits, type Tenant, tenant } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";

type Click = Partial<ClickEvent> & { at: string };

/** Known traffic: 2026-11-20 (hours 10–13), 2026-11-22, and a day outside the asked range. */
const traffic: Click[] = [
  {
    at: "2026-11-20T10:15Z",
    country: "DE",
    device: "mobile",
    referrerHost: "news.example",
    visitorHash: "v1",
  },
  {
    at: "2026-11-20T10:20Z",
    country: "DE",
    device: "mobile",
    referrerHost: "news.example",
    visitorHash: "v2",
  },
  { at: "2026-11-20T10:40Z", country: "US", device: "desktop", visitorHash: "v3" },
  { at: "2026-11-20T10:50Z", country: "US", device: "desktop", visitorHash: "v1" },
  { at: "2026-11-20T10:55Z", country: "FR", device: "tablet", referrerHost: "a.example", visitorHash: "v4" },
  { at: "2026-11-20T11:00Z", traffic: "bot", reason: "googlebot" },
  { at: "2026-11-20T11:00Z", traffic: "bot", reason: "googlebot" },
  {
    at: "2026-11-20T12:05Z",
    country: "DE",
    device: "desktop",
    referrerHost: "news.example",
    visitorHash: "v5",
  },
  { at: "2026-11-20T13:00Z", traffic: "preview", reason: "slack" },
  { at: "2026-11-20T13:10Z", traffic: "head", reason: "head" },
  { at: "2026-11-22T08:00Z", country: "DE", device: "desktop", visitorHash: "v1" },
  { at: "2026-11-22T09:00Z", country: "DE", device: "mobile", visitorHash: "v6" },
  { at: "2026-11-22T10:00Z", country: "US", device: "desktop", visitorHash: "v7" },
  { at: "2026-11-22T11:00Z", country: null, device: null, visitorHash: "v8" },
  { at: "2026-11-25T11:00Z", country: "JP", device: "mobile", visitorHash: "v9" },
];

describe("GET /links/:id/stats", () => {
  let t: TestApp;
  let acme: Tenant;
  let api: Api;
  let linkId: string;

  const event = (linkId: string, click: Click): ClickEvent => ({
    eventId: randomUUID(),
    linkId,
    workspaceId: acme.workspaceId,
    occurredAt: Date.parse(click.at),
    traffic: "human",
    reason: "browser",
    country: null,
    device: null,
    browser: "Firefox",
    os: "Linux",
    referrerHost: null,
    visitorHash: null,
    ...click,
  });

  /** Stores clicks as the consumer does: rows and rollups in one statement, then the live counter and HyperLogLogs. */
  async function record(linkId: string, clicks: Click[]) {
    const inserted = await ingestClicks(
      t.services.db.primary,
      clicks.map((click) => event(linkId, click)),
    );
    await updateLiveCounters(t.services.cache, inserted);
  }

  beforeAll(async () => {
    t = await startTestApp({ ...roomyLimits });
    acme = await tenant(t, "stats");
    api = apiAs(t, acme.key);
    linkId = (await api.create({ url: "https://example.com/stats" })).id;
    await record(linkId, traffic);
  });
  afterAll(() => t?.close());

  it("counts human clicks, uniques, bots and previews apart, in a zero-filled daily series", async () => {
    const res = await api.get(`/links/${linkId}/stats?from=2026-11-20&to=2026-11-23`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("private, max-age=30");
    expect(await res.json()).toMatchObject({
      linkId,
      interval: "day",
      from: "2026-11-20T00:00:00.000Z",
      to: "2026-11-23T00:00:00.000Z",
      clicks: 10,
      uniques: 8,
      allTimeClicks: 11,
      bots: 2,
      previews: 1,
      series: [
        { start: "2026-11-20T00:00:00.000Z", clicks: 6, bots: 2, previews: 1 },
        { start: "2026-11-21T00:00:00.000Z", clicks: 0, bots: 0, previews: 0 },
        { start: "2026-11-22T00:00:00.000Z", clicks: 4, bots: 0, previews: 0 },
      ],
      breakdowns: {},
    });
  });

  it("widens an hourly range to whole hours and fills the hours without traffic", async () => {
    const res = await api.get(
      `/links/${linkId}/stats?interval=hour&from=2026-11-20T09:30:00Z&to=2026-11-20T13:30:00Z`,
    );
    const stats = await res.json();
    expect([stats.from, stats.to]).toEqual(["2026-11-20T09:00:00.000Z", "2026-11-20T14:00:00.000Z"]);
    expect(
      stats.series.map((p: { clicks: number; bots: number; previews: number }) => [
        p.clicks,
        p.bots,
        p.previews,
      ]),
    ).toEqual([
      [0, 0, 0],
      [5, 0, 0],
      [0, 2, 0],
      [1, 0, 0],
      [0, 0, 1],
    ]);
    // Uniques cover the whole UTC day the range touches (one HyperLogLog per day).
    expect(stats.uniques).toBe(5);
  });

  it("breaks human clicks down by dimension: top N, the rest as other", async () => {
    const res = await api.get(
      `/links/${linkId}/stats?from=2026-11-20&to=2026-11-23&groupBy=country,device&groupBy=referrer&top=2`,
    );
    const { breakdowns } = await res.json();
    expect(breakdowns).toEqual({
      country: {
        top: [
          { value: "DE", clicks: 5 },
          { value: "US", clicks: 3 },
        ],
        other: 2,
      },
      device: {
        top: [
          { value: "desktop", clicks: 5 },
          { value: "mobile", clicks: 3 },
        ],
        other: 2,
      },
      referrer: {
        top: [
          { value: "direct", clicks: 6 },
          { value: "news.example", clicks: 3 },
        ],
        other: 1,
      },
    });
    const all = await (
      await api.get(`/links/${linkId}/stats?from=2026-11-20&to=2026-11-23&groupBy=device`)
    ).json();
    expect(all.breakdowns.device).toEqual({
      top: [
        { value: "desktop", clicks: 5 },
        { value: "mobile", clicks: 3 },
        { value: "tablet", clicks: 1 },
        { value: "unknown", clicks: 1 },
      ],
      other: 0,
    });
  });

  it("breaks an hourly range over several days down exactly as its hours add up", async () => {
    // Hours of 11-20 and 11-22 around the whole day 11-21: read from hour and day rollups alike.
    const across = async (from: string, to: string) =>
      (
        await (
          await api.get(`/links/${linkId}/stats?interval=hour&from=${from}&to=${to}&groupBy=country`)
        ).json()
      ).breakdowns.country;
    expect(await across("2026-11-20T10:00:00Z", "2026-11-22T12:00:00Z")).toEqual({
      top: [
        { value: "DE", clicks: 5 },
        { value: "US", clicks: 3 },
        { value: "FR", clicks: 1 },
        { value: "unknown", clicks: 1 },
      ],
      other: 0,
    });
    expect(await across("2026-11-20T12:00:00Z", "2026-11-22T10:00:00Z")).toEqual({
      top: [{ value: "DE", clicks: 3 }],
      other: 0,
    });
  });

  it("breaks bots and previews down by reason, from the raw clicks", async () => {
    const stats = await (
      await api.get(`/links/${linkId}/stats?from=2026-11-20&to=2026-11-23&groupBy=reason`)
    ).json();
    expect(stats.reasons).toEqual({
      bot: [{ value: "googlebot", clicks: 2 }],
      preview: [{ value: "slack", clicks: 1 }],
    });
  });

  it("serves a repeated question from the cache for STATS_CACHE_SECONDS", async () => {
    const path = `/links/${linkId}/stats?from=2026-11-01&to=2026-11-30&groupBy=os`;
    const before = await (await api.get(path)).json();
    await record(linkId, [{ at: "2026-11-21T12:00Z", visitorHash: "late" }]);
    expect(await (await api.get(path)).json()).toEqual(before);
    const fresh = await (await api.get(`${path}&top=3`)).json();
    expect(fresh.clicks).toBe(before.clicks + 1);
    expect(fresh.series[20]).toMatchObject({ start: "2026-11-21T00:00:00.000Z", clicks: 1 });
  });

  it("answers 404 for a link of another workspace, and 403 without analytics:read", async () => {
    const other = await tenant(t, "other");
    await expectProblem(await apiAs(t, other.key).get(`/links/${linkId}/stats`), 404);
    await expectProblem(await api.get(`/links/${randomUUID()}/stats`), 404);
    const reader = await keyFor(t, acme.workspaceId, ["links:read"]);
    const refused = await expectProblem(await apiAs(t, reader.key).get(`/links/${linkId}/stats`), 403);
    expect(refused.detail).toContain("analytics:read");
  });

  it("refuses bad ranges and parameters with 400 naming the field", async () => {
    const stats = (query: string) => api.get(`/links/${linkId}/stats?${query}`);
    await expectProblem(await stats("from=2026-11-20&to=2026-11-20"), 400, "query.to");
    await expectProblem(await stats("from=2026-11-23&to=2026-11-20"), 400, "query.to");
    await expectProblem(await stats("interval=hour&from=2026-10-01&to=2026-11-20"), 400, "query.from");
    await expectProblem(await stats("from=2020-01-01&to=2026-11-20"), 400, "query.from");
    await expectProblem(await stats("from=yesterday"), 400, "query.from");
    await expectProblem(await stats("interval=week"), 400, "query.interval");
    for (const top of ["0", "101", "many"]) {
      const problem = await expectProblem(await stats(`top=${top}`), 400, "query.top");
      expect(problem.detail).toBe("query.top: must be a whole number from 1 to 100");
    }
    const unknown = await expectProblem(await stats("groupBy=country,city"), 400);
    expect(unknown.errors?.[0]?.field).toMatch(/^query\.groupBy/);
    await expectProblem(await api.get("/links/not-a-uuid/stats"), 400, "param.id");
  });
});
