import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClickEvent } from "../../src/analytics/click-event";
import { ingestClicks } from "../../src/analytics/click-ingest";
import { liveClicksKey, uniquesKey } from "../../src/analytics/live-counters";
import { runMaintenance } from "../../src/ops/maintenance";
import { roomyLimits } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";
import { clickEvent } from "../support/click-events";

const chrome =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36";
const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";

const rows = (result: unknown) => {
  const answer = result as { rows?: Record<string, unknown>[] } | Record<string, unknown>[];
  return Array.isArray(answer) ? answer : (answer.rows ?? []);
};

describe("click analytics on the embedded default (in-process queue)", () => {
  let t: TestApp;
  let workspaceId: string;
  const create = async (input: { maxClicks?: number } = {}) => {
    const result = await t.services.linkService.create(workspaceId, {
      url: "https://example.com/",
      slug: `k${randomUUID().slice(0, 10)}`,
      ...input,
    });
    if (!result.ok) throw new Error(JSON.stringify(result.failure));
    return result.value;
  };
  const visit = (slug: string, headers: Record<string, string> = {}, method = "GET") =>
    t.app.request(`/${slug}`, { method, headers });
  const countsOf = async (linkId: string) => {
    const found = rows(
      await t.services.db.primary.execute(
        sql`select traffic, reason, count(*)::int as n from clicks where link_id = ${linkId} group by 1, 2 order by 1, 2`,
      ),
    );
    return found.map((r) => `${r.traffic}/${r.reason}=${r.n}`);
  };

  beforeAll(async () => {
    t = await startTestApp({
      ...roomyLimits,
      CLICK_FLUSH_MS: "20",
      CLIENT_IP_HEADER: "x-forwarded-for",
      GEO_COUNTRY_HEADER: "x-country",
    });
    workspaceId = (await t.services.workspaces.create({ name: "analytics" })).id;
  });
  afterAll(() => t?.close());

  it("stores each human click once with its enrichment, bots and previews apart, HEAD and prefetch not at all", async () => {
    const link = await create();
    const served: Response[] = [];
    for (let i = 0; i < 12; i += 1) {
      // Three visitors, four clicks each.
      const ip = `198.51.100.${i % 3}`;
      served.push(await visit(link.slug, { "User-Agent": iphone, "X-Forwarded-For": ip, "X-Country": "de" }));
    }
    served.push(await visit(link.slug, { "User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)" }));
    served.push(await visit(link.slug, { "User-Agent": "facebookexternalhit/1.1" }));
    served.push(await visit(link.slug, { "User-Agent": chrome }, "HEAD"));
    served.push(await visit(link.slug, { "User-Agent": chrome, "Sec-Purpose": "prefetch" }));
    expect(served.map((r) => r.status)).toEqual(Array(16).fill(302));

    await expect
      .poll(() => countsOf(link.id), { timeout: 5_000 })
      .toEqual(["bot/google=1", "human/browser=12", "preview/facebook=1"]);
    const [human] = rows(
      await t.services.db.primary.execute(
        sql`select country, device, browser, os, count(distinct visitor_hash)::int as visitors
            from clicks where link_id = ${link.id} and traffic = 'human' group by 1, 2, 3, 4`,
      ),
    );
    expect(human).toEqual({ country: "DE", device: "mobile", browser: "Safari", os: "iOS", visitors: 3 });
    // The live counters: human clicks only, and the day's unique visitors.
    const day = new Date().toISOString().slice(0, 10);
    await expect.poll(() => t.services.cache.get<number>(liveClicksKey(link.id))).toBe(12);
    expect(await t.services.cache.hyperLogLogCount(uniquesKey(link.id, day))).toBe(3);
  });

  it("maxClicks and analytics agree on what a click is: only human visits consume one", async () => {
    const link = await create({ maxClicks: 3 });
    const others = [
      await visit(link.slug, { "User-Agent": "Googlebot/2.1" }),
      await visit(link.slug, { "User-Agent": "Slackbot-LinkExpanding 1.0" }),
      await visit(link.slug, {}),
      await visit(link.slug, { "User-Agent": chrome }, "HEAD"),
      await visit(link.slug, { "User-Agent": chrome, Purpose: "prefetch" }),
    ];
    expect(others.map((r) => r.status)).toEqual([302, 302, 302, 302, 302]);
    const humans = [];
    for (let i = 0; i < 4; i += 1) humans.push((await visit(link.slug, { "User-Agent": chrome })).status);
    expect(humans).toEqual([302, 302, 302, 410]);

    await expect
      .poll(() => countsOf(link.id), { timeout: 5_000 })
      .toEqual(["bot/google=1", "bot/no-user-agent=1", "human/browser=3", "preview/slack=1"]);
    const [stored] = rows(
      await t.services.db.primary.execute(sql`select click_count from links where id = ${link.id}`),
    );
    expect(Number(stored!.click_count)).toBe(3);
  });

  it("retention: maintenance prunes raw clicks older than CLICK_RETENTION_DAYS and keeps every rollup", async () => {
    const link = await create();
    const day = 86_400_000;
    const now = Date.now();
    const event = (occurredAt: number): ClickEvent =>
      clickEvent({ linkId: link.id, workspaceId, occurredAt });
    await ingestClicks(t.services.db.primary, [
      ...Array.from({ length: 7 }, () => event(now - 120 * day)),
      ...Array.from({ length: 2 }, () => event(now - 91 * day)),
      ...Array.from({ length: 3 }, () => event(now - 89 * day)),
    ]);
    const rollupTotal = async () =>
      rows(
        await t.services.db.primary.execute(
          sql`select coalesce(sum(clicks), 0)::int as n from rollups
              where link_id = ${link.id} and granularity = 'day' and dimension = 'total'`,
        ),
      )[0]!.n;

    const report = await runMaintenance(t.services, new Date(now));

    expect(report.prunedClicks).toBeGreaterThanOrEqual(9);
    expect(await countsOf(link.id)).toEqual(["human/browser=3"]);
    expect(await rollupTotal()).toBe(12);
    // A second run finds nothing more of this link to prune.
    await runMaintenance(t.services, new Date(now));
    expect(await countsOf(link.id)).toEqual(["human/browser=3"]);
  });
});
