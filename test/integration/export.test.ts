import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClickEvent } from "../../src/analytics/click-event";
import { ingestClicks } from "../../src/analytics/click-ingest";
import { clickPages } from "../../src/analytics/export-repository";
import { parseCsv } from "../../src/http/streaming-csv";
import { createWorkspaceRepository } from "../../src/workspaces/workspace-repository";
import { type Api, apiAs, expectProblem, keyFor, roomyLimits, type Tenant, tenant } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";
import { driversUnderTest } from "../support/databases";

const total = 10_000;
const start = Date.UTC(2026, 10, 1);
const columns = [
  "eventId",
  "linkId",
  "occurredAt",
  "traffic",
  "reason",
  "country",
  "device",
  "browser",
  "os",
  "referrerHost",
];

async function* textOf(res: Response): AsyncGenerator<string> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) yield next.value;
}

describe("GET /clicks/export", () => {
  let t: TestApp;
  let acme: Tenant;
  let api: Api;
  const linkIds: string[] = [];
  const sent = new Map<string, ClickEvent>();

  beforeAll(async () => {
    // Pages of 100: a hundred page boundaries, many of them inside a run of equal timestamps.
    t = await startTestApp({ ...roomyLimits, EXPORT_PAGE_SIZE: "100" });
    acme = await tenant(t, "exporter");
    api = apiAs(t, acme.key);
    for (const n of [1, 2]) linkIds.push((await api.create({ url: `https://example.com/${n}` })).id);
    const events: ClickEvent[] = [];
    for (let i = 0; i < total; i++) {
      const event: ClickEvent = {
        eventId: randomUUID(),
        linkId: linkIds[i % 2]!,
        workspaceId: acme.workspaceId,
        // Runs of 150 clicks share one millisecond.
        occurredAt: start + Math.floor(i / 150) * 60_000,
        traffic: i % 10 === 0 ? "bot" : "human",
        reason: i % 10 === 0 ? "=cmd|' /C calc'!A0" : "browser",
        country: i % 3 === 0 ? null : "DE",
        device: "desktop",
        browser: i % 7 === 0 ? 'Bro,"wser"\nNext' : "Firefox",
        os: "-Linux",
        referrerHost: i % 5 === 0 ? "@news.example" : null,
        visitorHash: `secret-${i}`,
      };
      events.push(event);
      sent.set(event.eventId, event);
    }
    for (let at = 0; at < events.length; at += 1_000) {
      await ingestClicks(t.services.db.primary, events.slice(at, at + 1_000));
    }
    // Another workspace's clicks in the same range must never show.
    const other = await tenant(t, "other");
    await ingestClicks(t.services.db.primary, [
      { ...events[0]!, eventId: randomUUID(), workspaceId: other.workspaceId, linkId: randomUUID() },
    ]);
  }, 120_000);
  afterAll(() => t?.close());

  const range = "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z";

  it("streams every click once as NDJSON, oldest first, ties broken by event id, without visitor data", async () => {
    const res = await api.get(`/clicks/export?${range}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBe(
      'attachment; filename="clicks-2026-11-01T000000Z-2026-12-01T000000Z.ndjson"',
    );
    const text = await res.text();
    const rows = text
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(rows).toHaveLength(total);
    expect(new Set(rows.map((r) => r.eventId)).size).toBe(total);
    for (let i = 1; i < rows.length; i++) {
      const [a, b] = [rows[i - 1], rows[i]];
      expect(a.occurredAt < b.occurredAt || (a.occurredAt === b.occurredAt && a.eventId < b.eventId)).toBe(
        true,
      );
    }
    const first = rows[0];
    expect(Object.keys(first)).toEqual(columns);
    const event = sent.get(first.eventId)!;
    expect(first).toEqual({
      eventId: event.eventId,
      linkId: event.linkId,
      occurredAt: new Date(event.occurredAt).toISOString(),
      traffic: event.traffic,
      reason: event.reason,
      country: event.country,
      device: event.device,
      browser: event.browser,
      os: event.os,
      referrerHost: event.referrerHost,
    });
    expect(text).not.toContain("secret-");
  });

  it("streams CSV that parses back to the same values, quoted per RFC 4180, formulas defused", async () => {
    const res = await api.get(`/clicks/export?${range}&format=csv`);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8; header=present");
    expect(res.headers.get("content-disposition")).toMatch(/filename="clicks-.*\.csv"$/);
    const records = [];
    for await (const record of parseCsv(textOf(res))) records.push(record);
    expect(records[0]!.fields).toEqual(columns);
    expect(records).toHaveLength(total + 1);
    const defused = (value: string | null) =>
      value === null ? "" : /^[=+\-@]/.test(value) ? `'${value}` : value;
    for (const { fields, error } of records.slice(1)) {
      expect(error).toBeUndefined();
      const event = sent.get(fields[0]!)!;
      expect(fields).toEqual([
        event.eventId,
        event.linkId,
        new Date(event.occurredAt).toISOString(),
        event.traffic,
        defused(event.reason),
        event.country ?? "",
        event.device,
        event.browser,
        defused(event.os),
        defused(event.referrerHost),
      ]);
    }
  });

  it("filters by link and by time range, on keyset pages that lose nothing", async () => {
    const one = await api.get(`/clicks/export?${range}&linkId=${linkIds[1]}`);
    const rows = (await one.text())
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(rows).toHaveLength(total / 2);
    expect(rows.every((r) => r.linkId === linkIds[1])).toBe(true);
    // Exactly the first 10 minutes: clicks i < 1500 (ten runs of 150).
    const window = await api.get("/clicks/export?from=2026-11-01&to=2026-11-01T00:10:00Z");
    expect((await window.text()).trimEnd().split("\n")).toHaveLength(1_500);
    const empty = await api.get("/clicks/export?from=2027-01-01&to=2027-01-02&format=csv");
    expect(await empty.text()).toBe(`${columns.join(",")}\r\n`);
  });

  it("keeps workspaces apart: another workspace sees none of these clicks and none of these links", async () => {
    const other = await tenant(t, "nosy");
    const nosy = apiAs(t, other.key);
    expect(await (await nosy.get(`/clicks/export?${range}`)).text()).toBe("");
    await expectProblem(await nosy.get(`/clicks/export?${range}&linkId=${linkIds[0]}`), 404);
  });

  it("refuses bad parameters with 400 naming the field, and keys without analytics:read with 403", async () => {
    const missing = await expectProblem(await api.get("/clicks/export?to=2026-12-01"), 400, "query.from");
    expect(missing.errors).toContainEqual({
      field: "query.from",
      message:
        "is required: an ISO 8601 date-time with an offset (2026-11-01T00:00:00Z) or a date (2026-11-01)",
    });
    const unreadable = await expectProblem(
      await api.get("/clicks/export?from=yesterday&to=2026-12-01"),
      400,
      "query.from",
    );
    expect(unreadable.detail).toBe(
      "query.from: must be an ISO 8601 date-time with an offset (2026-11-01T00:00:00Z) or a date (2026-11-01)",
    );
    await expectProblem(await api.get("/clicks/export?from=2026-12-01&to=2026-11-01"), 400, "query.to");
    await expectProblem(await api.get(`/clicks/export?${range}&format=xml`), 400, "query.format");
    await expectProblem(await api.get(`/clicks/export?${range}&linkId=nope`), 400, "query.linkId");
    const writer = await keyFor(t, acme.workspaceId, ["links:write"]);
    await expectProblem(await apiAs(t, writer.key).get(`/clicks/export?${range}`), 403);
  });
});

for (const driver of driversUnderTest()) {
  describe.skipIf(driver.skip)(`click export keyset pages on ${driver.name}`, () => {
    it("pages through runs of equal timestamps without losing or repeating a click", async () => {
      const db = await driver.open();
      try {
        const workspaceId = (await createWorkspaceRepository(db).create({ name: "keyset" })).id;
        const linkId = randomUUID();
        const events = Array.from({ length: 57 }, (_, i) => ({
          eventId: randomUUID(),
          linkId,
          workspaceId,
          occurredAt: start + Math.floor(i / 8) * 1_000,
          traffic: "human" as const,
          reason: "browser",
          country: null,
          device: null,
          browser: null,
          os: null,
          referrerHost: null,
          visitorHash: null,
        }));
        await ingestClicks(db.primary, events);
        const filter = { workspaceId, from: new Date(start), to: new Date(start + 86_400_000) };
        const pages: number[] = [];
        const seen: string[] = [];
        for await (const page of clickPages(db.replica, filter, 5)) {
          pages.push(page.length);
          seen.push(...page.map((click) => click.eventId));
        }
        const expected = [...events]
          .sort((a, b) => a.occurredAt - b.occurredAt || (a.eventId < b.eventId ? -1 : 1))
          .map((event) => event.eventId);
        expect(seen).toEqual(expected);
        expect(pages).toEqual([...Array(11).fill(5), 2]);
      } finally {
        await db.close();
        await db.teardown?.();
      }
    });
  });
}
